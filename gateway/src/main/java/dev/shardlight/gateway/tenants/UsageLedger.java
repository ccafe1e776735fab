package dev.shardlight.gateway.tenants;

import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Tokens served per tenant, key and model: totals per minute in memory for the admin API's "since"
 * queries, a {@link Listener} (the Prometheus counters) told of every record, and the
 * {@link UsageJournal} underneath so none of it is lost when the node restarts.
 *
 * <p>Why a journal on the gateway's own disk: the gateway is the one place that sees every token
 * a client was sent (and the Finished usage it was told), so it meters there; a local append-only
 * file is durable with one fsync per batch and no extra service, and replaying it at start rebuilds
 * the totals and seeds the counters so they keep counting from where they were. The price: each
 * gateway node keeps its own share, and the cluster's usage is the sum over the gateway nodes
 * (as Prometheus sums the counters).
 */
public final class UsageLedger implements AutoCloseable {
    private static final long MINUTE = 60_000;

    /** Told of usage as it is recorded, and at start of the totals replayed from the journal. */
    @FunctionalInterface
    public interface Listener {
        void served(String tenant, String keyId, String model, long requests, long promptTokens, long completionTokens,
                    long cachedTokens);
    }

    /** Totals of one tenant, key and model. */
    public record Total(String tenant, String keyId, String model, long requests, long promptTokens,
                        long completionTokens, long cachedTokens) {
    }

    private record Row(long minute, String tenant, String keyId, String model) {
    }

    private record Key(String tenant, String keyId, String model) {
        static final Comparator<Key> ORDER = Comparator.comparing(Key::tenant).thenComparing(Key::keyId).thenComparing(Key::model);
    }

    private final Map<Row, long[]> perMinute = new ConcurrentHashMap<>();
    private final Listener listener;
    private final UsageJournal journal;

    /** @param dataDir where the journal lives; null: in memory only (lost on restart, logged as such) */
    public UsageLedger(Path dataDir, Listener listener) throws IOException {
        this.listener = listener;
        if (dataDir == null) {
            LoggerFactory.getLogger(UsageLedger.class).warn("shardlight.gateway.data-dir is not set: usage is kept in memory "
                    + "only and lost when this node restarts");
            this.journal = null;
        } else {
            this.journal = UsageJournal.open(dataDir, this::add);
            Map<Key, long[]> replayed = new TreeMap<>(Key.ORDER);
            perMinute.forEach((row, v) -> {
                long[] t = replayed.computeIfAbsent(new Key(row.tenant(), row.keyId(), row.model()), k -> new long[4]);
                for (int i = 0; i < 4; i++) {
                    t[i] += v[i];
                }
            });
            replayed.forEach((k, v) -> listener.served(k.tenant(), k.keyId(), k.model(), v[0], v[1], v[2], v[3]));
        }
    }

    public void record(UsageRecord r) {
        if (journal != null) {
            journal.append(r);
        }
        add(r);
        listener.served(r.tenant(), r.keyId(), r.model(), 1, r.promptTokens(), r.completionTokens(), r.cachedTokens());
    }

    private void add(UsageRecord r) {
        long[] t = perMinute.computeIfAbsent(new Row(Math.floorDiv(r.atMillis(), MINUTE), r.tenant(), r.keyId(), r.model()),
                k -> new long[4]);
        synchronized (t) {
            t[0]++;
            t[1] += r.promptTokens();
            t[2] += r.completionTokens();
            t[3] += r.cachedTokens();
        }
    }

    /** Where totals since {@code sinceMillis} start counting: the start of its minute. */
    public static long effectiveSince(long sinceMillis) {
        return Math.floorDiv(sinceMillis, MINUTE) * MINUTE;
    }

    /** Totals of the minutes from {@link #effectiveSince}{@code (sinceMillis)} on; {@code tenant} null or empty: all. */
    public List<Total> totalsSince(long sinceMillis, String tenant) {
        long fromMinute = Math.floorDiv(sinceMillis, MINUTE);
        Map<Key, long[]> sums = new TreeMap<>(Key.ORDER);
        perMinute.forEach((row, v) -> {
            if (row.minute() >= fromMinute && (tenant == null || tenant.isEmpty() || tenant.equals(row.tenant()))) {
                long[] t = sums.computeIfAbsent(new Key(row.tenant(), row.keyId(), row.model()), k -> new long[4]);
                synchronized (v) {
                    for (int i = 0; i < 4; i++) {
                        t[i] += v[i];
                    }
                }
            }
        });
        List<Total> out = new ArrayList<>();
        sums.forEach((k, v) -> out.add(new Total(k.tenant(), k.keyId(), k.model(), v[0], v[1], v[2], v[3])));
        return out;
    }

    /** Waits until everything recorded so far is on disk (no-op without a journal). */
    public void sync() throws InterruptedException {
        if (journal != null) {
            try {
                journal.sync().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("usage journal did not sync: " + e, e);
            }
        }
    }

    /** Writes and fsyncs everything recorded. */
    @Override
    public void close() throws InterruptedException {
        if (journal != null) {
            journal.close();
        }
    }
}
