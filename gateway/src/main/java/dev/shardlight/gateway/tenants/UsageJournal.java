package dev.shardlight.gateway.tenants;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import java.util.zip.CRC32;

/**
 * An append-only file of {@link UsageRecord}s on the gateway node's disk, one line per request:
 * tab-separated fields (percent-encoded) and a CRC-32 of the line. One writer thread appends what
 * has queued up and fsyncs once per batch (group commit: under load a batch is what arrived during
 * the previous fsync). {@link #close()} writes and fsyncs everything queued, so a graceful restart
 * loses nothing; a crash loses at most the batch being written. A line torn by a crash fails its
 * CRC and is cut off when the journal is opened again.
 */
final class UsageJournal implements AutoCloseable {
    static final String FILE = "usage.journal";
    private static final Logger LOG = LoggerFactory.getLogger(UsageJournal.class);
    private static final Object STOP = new Object();

    private final Path file;
    private final FileChannel channel;
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private volatile boolean closed;

    private UsageJournal(Path file, FileChannel channel) {
        this.file = file;
        this.channel = channel;
        this.writer = Thread.ofPlatform().daemon().name("usage-journal").start(this::writeLoop);
    }

    /** Opens (or creates) the journal in {@code dataDir}, first handing every intact record to {@code replay}. */
    static UsageJournal open(Path dataDir, Consumer<UsageRecord> replay) throws IOException {
        Files.createDirectories(dataDir);
        Path file = dataDir.resolve(FILE);
        long good = 0;
        int bad = 0;
        if (Files.exists(file)) {
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                long offset = 0;
                int b;
                while ((b = in.read()) >= 0) {
                    offset++;
                    if (b != '\n') {
                        line.write(b);
                        continue;
                    }
                    UsageRecord r = parse(line.toString(StandardCharsets.UTF_8));
                    line.reset();
                    if (r == null) {
                        bad++;
                    } else {
                        replay.accept(r);
                    }
                    good = offset;
                }
                if (line.size() > 0) {
                    LOG.warn("usage journal {}: cutting off a torn last line ({} bytes) left by a crash", file, line.size());
                }
            }
        }
        if (bad > 0) {
            LOG.error("usage journal {}: {} damaged lines skipped (CRC mismatch)", file, bad);
        }
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        ch.truncate(good);
        ch.position(good);
        return new UsageJournal(file, ch);
    }

    void append(UsageRecord r) {
        if (closed) {
            LOG.error("usage journal {} is closed; not kept: {}", file, r);
            return;
        }
        queue.add(r);
    }

    /** Completes once everything appended before it is on disk. */
    CompletableFuture<Void> sync() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        queue.add(done);
        return done;
    }

    @Override
    public void close() throws InterruptedException {
        if (closed) {
            return;
        }
        closed = true;
        queue.add(STOP);
        writer.join();
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void writeLoop() {
        List<Object> batch = new ArrayList<>();
        while (true) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                continue; // only close() ends the writer, after the last batch
            }
            queue.drainTo(batch);
            StringBuilder text = new StringBuilder();
            List<CompletableFuture<Void>> waiting = new ArrayList<>();
            boolean stop = false;
            for (Object o : batch) {
                if (o instanceof UsageRecord r) {
                    text.append(format(r)).append('\n');
                } else if (o == STOP) {
                    stop = true;
                } else {
                    @SuppressWarnings("unchecked") CompletableFuture<Void> f = (CompletableFuture<Void>) o;
                    waiting.add(f);
                }
            }
            batch.clear();
            try {
                ByteBuffer bytes = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
                while (bytes.hasRemaining()) {
                    channel.write(bytes);
                }
                channel.force(false);
                waiting.forEach(f -> f.complete(null));
            } catch (IOException e) {
                LOG.error("usage journal {}: writing failed, these records are only in memory: {}", file, text, e);
                waiting.forEach(f -> f.completeExceptionally(e));
            }
            if (stop) {
                return;
            }
        }
    }

    static String format(UsageRecord r) {
        String body = String.join("\t", "u1", Long.toString(r.atMillis()), enc(r.tenant()), enc(r.keyId()), enc(r.model()),
                Long.toString(r.promptTokens()), Long.toString(r.completionTokens()), Long.toString(r.cachedTokens()));
        return body + "\t" + crc(body);
    }

    /** The record on a journal line, or null when the line is damaged. */
    static UsageRecord parse(String line) {
        int tab = line.lastIndexOf('\t');
        if (tab < 0 || !line.substring(tab + 1).equals(crc(line.substring(0, tab)))) {
            return null;
        }
        String[] f = line.substring(0, tab).split("\t", -1);
        if (f.length != 8 || !f[0].equals("u1")) {
            return null;
        }
        try {
            return new UsageRecord(Long.parseLong(f[1]), dec(f[2]), dec(f[3]), dec(f[4]), Long.parseLong(f[5]),
                    Long.parseLong(f[6]), Long.parseLong(f[7]));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String crc(String body) {
        CRC32 c = new CRC32();
        c.update(body.getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", c.getValue());
    }

    private static String enc(String s) {
        return s.replace("%", "%25").replace("\t", "%09").replace("\n", "%0A").replace("\r", "%0D");
    }

    private static String dec(String s) {
        return s.replace("%0D", "\r").replace("%0A", "\n").replace("%09", "\t").replace("%25", "%");
    }
}
