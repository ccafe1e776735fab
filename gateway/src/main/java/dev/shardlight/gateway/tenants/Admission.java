package dev.shardlight.gateway.tenants;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.protobuf.StatusProto;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * Per-tenant admission at the gateway: model permission, max tokens per request, token buckets per
 * tenant and per key (requests per minute; prompt + completion tokens per minute) and concurrent
 * streams. A request is charged prompt + max_tokens when admitted; when its stream ends
 * ({@link Lease#end}) whatever was not served is refunded, so in the end a tenant's token bucket is
 * charged exactly the tokens it was metered. All of a tenant's buckets are checked and charged
 * under one lock: a refused request charges nothing.
 */
public final class Admission {
    /** How long a caller refused for its concurrent-stream limit is told to wait: streams end unpredictably. */
    static final long STREAM_RETRY_NANOS = 1_000_000_000L;

    /** An admitted request's hold on its tenant's limits. */
    public interface Lease {
        /**
         * The stream ended (any way: finished, failed, cancelled, deadline); releases the stream,
         * refunds the unserved tokens and meters what was served. Only the first call counts.
         *
         * @param promptTokens 0 when no replica ever took the request (nothing served)
         */
        void end(long promptTokens, long completionTokens, long cachedTokens);

        /** The tenant's priority class and fair-share weight, which the replica's batch scheduler applies. */
        default TenantRegistry.Scheduling scheduling() {
            return TenantRegistry.Scheduling.DEFAULT;
        }
    }

    /** Told of each refusal, with the limit that caused it (e.g. "requests-per-minute"). */
    @FunctionalInterface
    public interface RefusalListener {
        void refused(String tenant, String limit);
    }

    private final TenantRegistry registry;
    private final UsageLedger ledger;
    private final RefusalListener refusals;
    private final LongSupplier nanos;
    private final LongSupplier millis;
    private final Map<String, TenantState> states = new ConcurrentHashMap<>();

    public Admission(TenantRegistry registry, UsageLedger ledger, RefusalListener refusals) {
        this(registry, ledger, refusals, System::nanoTime, System::currentTimeMillis);
    }

    Admission(TenantRegistry registry, UsageLedger ledger, RefusalListener refusals, LongSupplier nanos, LongSupplier millis) {
        this.registry = registry;
        this.ledger = ledger;
        this.refusals = refusals;
        this.nanos = nanos;
        this.millis = millis;
    }

    public TenantRegistry registry() {
        return registry;
    }

    /**
     * Checks that need only the request as sent, before the prompt is tokenized: the model is
     * allowed (PERMISSION_DENIED) and an explicit max_tokens is within the tenant's bound
     * (INVALID_ARGUMENT).
     *
     * @return the tenant's max tokens per request, to bound a request that left max_tokens at 0 (0: none)
     */
    public int precheck(TenantRegistry.Caller caller, String model, long maxTokens) throws StatusException {
        TenantSpec t = spec(caller);
        if (!t.allows(model)) {
            throw refused(caller, "allowed-models", Status.PERMISSION_DENIED.withDescription("tenant " + t.id()
                    + " may not use model \"" + model + "\"; allowed: " + String.join(", ", new java.util.TreeSet<>(t.allowedModels())))
                    .asException());
        }
        int cap = t.limits().maxTokensPerRequest();
        if (cap > 0 && maxTokens > cap) {
            throw refused(caller, "max-tokens-per-request", Status.INVALID_ARGUMENT.withDescription("max_tokens = " + maxTokens
                    + " exceeds the max-tokens-per-request limit of tenant " + t.id() + " (" + cap + ")").asException());
        }
        return cap;
    }

    /** Admits a validated request or refuses it with RESOURCE_EXHAUSTED and {@code google.rpc.RetryInfo}. */
    public Lease admit(TenantRegistry.Caller caller, String model, int promptTokens, int maxTokens) throws StatusException {
        TenantSpec t = spec(caller);
        ApiKeyRecord key = caller.keyId() == null ? null : t.key(caller.keyId()).orElse(null);
        long charge = (long) promptTokens + maxTokens;
        TenantState s = states.computeIfAbsent(t.id(), id -> new TenantState());
        synchronized (s) {
            long now = nanos.getAsLong();
            s.apply(t, now);
            KeyState k = key == null ? null : s.key(key, now);
            String tooBig = s.tokens != null && charge > s.tokens.capacity() ? "tenant " + t.id() + " (" + s.tokens.capacity() + ")"
                    : k != null && k.tokens != null && charge > k.tokens.capacity() ? "API key " + key.keyId() + " of tenant "
                    + t.id() + " (" + k.tokens.capacity() + ")" : null;
            if (tooBig != null) {
                throw refused(caller, "tokens-per-minute", Status.INVALID_ARGUMENT.withDescription("prompt (" + promptTokens
                        + " tokens) + max_tokens (" + maxTokens + ") = " + charge + " exceeds the tokens-per-minute limit of "
                        + tooBig + ", so it can never be admitted; lower max_tokens").asException());
            }
            List<String> why = new ArrayList<>();
            List<String> limits = new ArrayList<>();
            long wait = 0;
            int maxStreams = t.limits().maxConcurrentStreams();
            if (maxStreams > 0 && s.streams >= maxStreams) {
                why.add("tenant " + t.id() + ": max-concurrent-streams limit (" + maxStreams + ") reached, " + s.streams
                        + " streams open");
                limits.add("max-concurrent-streams");
                wait = STREAM_RETRY_NANOS;
            }
            wait = Math.max(wait, check(s.requests, 1, "tenant " + t.id(), "requests-per-minute", now, why, limits));
            wait = Math.max(wait, check(k == null ? null : k.requests, 1, "API key " + caller.keyId() + " of tenant " + t.id(),
                    "requests-per-minute", now, why, limits));
            wait = Math.max(wait, check(s.tokens, charge, "tenant " + t.id(), "tokens-per-minute", now, why, limits));
            wait = Math.max(wait, check(k == null ? null : k.tokens, charge, "API key " + caller.keyId() + " of tenant " + t.id(),
                    "tokens-per-minute", now, why, limits));
            if (!why.isEmpty()) {
                refusals.refused(t.id(), limits.get(0));
                long ms = Math.max(1, (wait + 999_999) / 1_000_000);
                String message = String.join("; ", why) + "; retry in " + String.format(Locale.ROOT, "%.1f", ms / 1000.0) + " s";
                throw StatusProto.toStatusException(com.google.rpc.Status.newBuilder()
                        .setCode(Code.RESOURCE_EXHAUSTED_VALUE).setMessage(message)
                        .addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
                                .setSeconds(ms / 1000).setNanos((int) (ms % 1000) * 1_000_000)).build()))
                        .build());
            }
            s.streams++;
            take(s.requests, 1, now);
            take(s.tokens, charge, now);
            if (k != null) {
                take(k.requests, 1, now);
                take(k.tokens, charge, now);
            }
            return new Held(s, k, caller, model, charge);
        }
    }

    private TenantSpec spec(TenantRegistry.Caller caller) throws StatusException {
        TenantSpec t = registry.get(caller.tenant()).orElse(null);
        if (t != null) {
            return t;
        }
        if (TenantRegistry.ANONYMOUS.equals(caller.tenant()) && caller.keyId() == null) {
            return new TenantSpec(TenantRegistry.ANONYMOUS, java.util.Set.of(), TenantLimits.NONE, 0, 1.0, List.of());
        }
        throw Status.UNAUTHENTICATED.withDescription("tenant " + caller.tenant() + " no longer exists").asException();
    }

    private StatusException refused(TenantRegistry.Caller caller, String limit, StatusException e) {
        refusals.refused(caller.tenant(), limit);
        return e;
    }

    /** Adds a refusal reason when {@code bucket} lacks {@code units}; returns the wait in nanoseconds. */
    private static long check(TokenBucket bucket, long units, String who, String limit, long now, List<String> why, List<String> limits) {
        if (bucket == null) {
            return 0;
        }
        long wait = bucket.nanosUntil(units, now);
        if (wait > 0) {
            why.add(who + ": " + limit + " limit (" + bucket.capacity() + ") reached");
            limits.add(limit);
        }
        return wait;
    }

    private static void take(TokenBucket bucket, long units, long now) {
        if (bucket != null) {
            bucket.take(units, now);
        }
    }

    private static void give(TokenBucket bucket, long units, long now) {
        if (bucket != null && units > 0) {
            bucket.give(units, now);
        }
    }

    /** Buckets are made, resized or dropped as the tenant's limits change; guarded by the state's monitor. */
    private static final class TenantState {
        TokenBucket requests;
        TokenBucket tokens;
        int streams;
        final Map<String, KeyState> keys = new HashMap<>();

        void apply(TenantSpec t, long now) {
            requests = fit(requests, t.limits().requestsPerMinute(), now);
            tokens = fit(tokens, t.limits().tokensPerMinute(), now);
        }

        KeyState key(ApiKeyRecord key, long now) {
            KeyState k = keys.computeIfAbsent(key.keyId(), id -> new KeyState());
            k.requests = fit(k.requests, key.requestsPerMinute(), now);
            k.tokens = fit(k.tokens, key.tokensPerMinute(), now);
            return k;
        }
    }

    private static final class KeyState {
        TokenBucket requests;
        TokenBucket tokens;
    }

    private static TokenBucket fit(TokenBucket b, long perMinute, long now) {
        if (perMinute <= 0) {
            return null;
        }
        if (b == null) {
            return new TokenBucket(perMinute, now);
        }
        if (b.capacity() != perMinute) {
            b.resize(perMinute, now);
        }
        return b;
    }

    private final class Held implements Lease {
        private final AtomicBoolean ended = new AtomicBoolean();
        private final TenantState state;
        private final KeyState key;
        private final TenantRegistry.Caller caller;
        private final String model;
        private final long charged;

        @Override
        public TenantRegistry.Scheduling scheduling() {
            return registry.schedulingOf(caller.tenant());
        }

        Held(TenantState state, KeyState key, TenantRegistry.Caller caller, String model, long charged) {
            this.state = state;
            this.key = key;
            this.caller = caller;
            this.model = model;
            this.charged = charged;
        }

        @Override
        public void end(long promptTokens, long completionTokens, long cachedTokens) {
            if (!ended.compareAndSet(false, true)) {
                return;
            }
            long unserved = charged - promptTokens - completionTokens;
            synchronized (state) {
                long now = nanos.getAsLong();
                state.streams--;
                give(state.tokens, unserved, now);
                if (key != null) {
                    give(key.tokens, unserved, now);
                }
            }
            if (promptTokens > 0 || completionTokens > 0) {
                ledger.record(new UsageRecord(millis.getAsLong(), caller.tenant(),
                        caller.keyId() == null ? "" : caller.keyId(), model, promptTokens, completionTokens, cachedTokens));
            }
        }
    }
}
