package dev.shardlight.gateway;

import dev.shardlight.router.RouterView;
import dev.shardlight.worker.LocalReplicas;
import dev.shardlight.worker.ModelReplica;
import dev.shardlight.worker.ReplicaId;
import dev.shardlight.engine.runtime.BatchScheduler;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.util.function.ToDoubleFunction;

/**
 * The serving metrics of a gateway node, named after Prometheus conventions (base units,
 * {@code _total} counters, {@code _seconds} histograms). On a node with the router role the replica
 * gauges come from the router's view, so every gateway shows the whole cluster's placement and
 * queues; a worker-only node has no such view and exports the replicas it hosts itself.
 */
public final class ServingMetrics {
    private static final double[] LATENCY_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    final Counter requests;
    final Histogram timeToFirstToken;
    final Histogram interTokenLatency;
    final Histogram requestDuration;
    final Counter promptTokens;
    final Counter completionTokens;
    final Gauge inFlight;
    final Histogram queueTime;
    final Counter tenantRequests;
    final Counter tenantPromptTokens;
    final Counter tenantCompletionTokens;
    final Counter tenantCachedTokens;
    final Counter admissionRefusals;

    public ServingMetrics(PrometheusRegistry registry, RouterView view) {
        this(registry, view, null);
    }

    /**
     * @param local the replicas hosted on this node, for a worker node without the router role
     *              (its gauges then list those); null: the router's view of the whole cluster
     */
    public ServingMetrics(PrometheusRegistry registry, RouterView view, LocalReplicas local) {
        requests = Counter.builder().name("shardlight_requests_total")
                .help("Generate calls by model, tenant and final gRPC status code")
                .labelNames("model", "tenant", "status").register(registry);
        timeToFirstToken = Histogram.builder().name("shardlight_time_to_first_token_seconds")
                .help("Time from a Generate call's arrival to its first streamed token")
                .labelNames("model").classicUpperBounds(LATENCY_BUCKETS).classicOnly().register(registry);
        interTokenLatency = Histogram.builder().name("shardlight_inter_token_latency_seconds")
                .help("Time between consecutive tokens of one stream, as the gateway receives them")
                .labelNames("model").classicUpperBounds(LATENCY_BUCKETS).classicOnly().register(registry);
        requestDuration = Histogram.builder().name("shardlight_request_duration_seconds")
                .help("Time from a Generate call's arrival to its end")
                .labelNames("model").classicUpperBounds(LATENCY_BUCKETS).classicOnly().register(registry);
        promptTokens = Counter.builder().name("shardlight_prompt_tokens_total")
                .help("Prompt tokens of admitted requests").labelNames("model", "tenant").register(registry);
        completionTokens = Counter.builder().name("shardlight_completion_tokens_total")
                .help("Tokens streamed to clients").labelNames("model", "tenant").register(registry);
        inFlight = Gauge.builder().name("shardlight_gateway_in_flight_requests")
                .help("Generate calls this gateway is serving").labelNames("model").register(registry);
        queueTime = Histogram.builder().name("shardlight_queue_time_seconds")
                .help("Time a sequence waited on its replica for a batch slot and KV blocks")
                .labelNames("model").classicUpperBounds(LATENCY_BUCKETS).classicOnly().register(registry);
        // Usage per tenant, key id (never the key) and model; seeded at start from the usage journal,
        // so they count from the node's first request, not from its last restart.
        tenantRequests = Counter.builder().name("shardlight_tenant_requests_total")
                .help("Requests a replica took, by tenant, API key id and model (the usage journal's count)")
                .labelNames("tenant", "key", "model").register(registry);
        tenantPromptTokens = Counter.builder().name("shardlight_tenant_prompt_tokens_total")
                .help("Prompt tokens served, by tenant, API key id and model").labelNames("tenant", "key", "model").register(registry);
        tenantCompletionTokens = Counter.builder().name("shardlight_tenant_completion_tokens_total")
                .help("Completion tokens served (written to the client), by tenant, API key id and model")
                .labelNames("tenant", "key", "model").register(registry);
        tenantCachedTokens = Counter.builder().name("shardlight_tenant_cached_tokens_total")
                .help("Prompt tokens served from a reused KV cache, by tenant, API key id and model")
                .labelNames("tenant", "key", "model").register(registry);
        admissionRefusals = Counter.builder().name("shardlight_admission_refusals_total")
                .help("Requests the gateway refused for a tenant limit or permission, by tenant and limit")
                .labelNames("tenant", "limit").register(registry);
        ReplicaSource replicas = local == null ? clusterView(view) : localReplicas(local);
        batchGauge(registry, replicas, "shardlight_replica_batch_size",
                "Sequences in a replica's last engine step", BatchScheduler.Stats::lastBatchSize);
        batchGauge(registry, replicas, "shardlight_replica_step_tokens",
                "Tokens (prefill and decode rows) in a replica's last engine step", BatchScheduler.Stats::lastStepRows);
        batchGauge(registry, replicas, "shardlight_replica_kv_blocks_used",
                "KV blocks held by a replica's sequences", BatchScheduler.Stats::kvBlocksUsed);
        batchGauge(registry, replicas, "shardlight_replica_kv_blocks_free",
                "KV blocks a replica can hand out (free, or held only by unused prefix-cache entries)",
                BatchScheduler.Stats::kvBlocksFree);
        batchGauge(registry, replicas, "shardlight_replica_kv_blocks_cached",
                "KV blocks held only by unused prefix-cache entries (evictable)", BatchScheduler.Stats::kvBlocksCached);
        batchCounter(registry, replicas, "shardlight_replica_engine_steps",
                "Batched engine steps a replica ran", BatchScheduler.Stats::steps);
        batchCounter(registry, replicas, "shardlight_replica_processed_tokens",
                "Tokens a replica's engine steps processed (divide by steps for tokens per step)",
                BatchScheduler.Stats::stepRows);
        batchCounter(registry, replicas, "shardlight_replica_prefix_cache_queried_tokens",
                "Prompt tokens (whole blocks) looked up in a replica's prefix cache", BatchScheduler.Stats::prefixQueriedTokens);
        batchCounter(registry, replicas, "shardlight_replica_prefix_cache_hit_tokens",
                "Prompt tokens found in a replica's prefix cache (hit rate = hit / queried)",
                BatchScheduler.Stats::prefixHitTokens);
        batchCounter(registry, replicas, "shardlight_replica_preemptions",
                "Sequences a replica preempted (recomputed later) for lack of KV blocks", BatchScheduler.Stats::preemptions);
        replicaGauge(registry, replicas, "shardlight_replica_queue_depth",
                "Requests waiting in a replica's queue, as last reported", ModelReplica.Status::queued);
        replicaGauge(registry, replicas, "shardlight_replica_in_flight_requests",
                "Sequences a replica is decoding, as last reported", ModelReplica.Status::inFlight);
        replicaGauge(registry, replicas, "shardlight_replica_kv_cache_bytes",
                "KV cache bytes held by a replica's sequences, as last reported", ModelReplica.Status::kvBytes);
        GaugeWithCallback.builder().name("shardlight_replica_info")
                .help("1 per replica with where it is placed and its state (pending, loading, ready, failed)")
                .labelNames("model", "replica", "node", "state")
                .callback(cb -> replicas.forEach((model, replica, node, status, state) -> cb.call(1, model, replica, node, state)))
                .register(registry);
    }

    /** A {@link dev.shardlight.gateway.tenants.UsageLedger.Listener}: usage as it is recorded (and replayed at start). */
    public void served(String tenant, String keyId, String model, long requests, long promptTokens, long completionTokens,
                       long cachedTokens) {
        tenantRequests.labelValues(tenant, keyId, model).inc(requests);
        tenantPromptTokens.labelValues(tenant, keyId, model).inc(promptTokens);
        tenantCompletionTokens.labelValues(tenant, keyId, model).inc(completionTokens);
        tenantCachedTokens.labelValues(tenant, keyId, model).inc(cachedTokens);
    }

    /** A {@link dev.shardlight.gateway.tenants.Admission.RefusalListener}. */
    public void refused(String tenant, String limit) {
        admissionRefusals.labelValues(tenant, limit).inc();
    }

    /** Visits every replica a node reports: model, replica id, node, last status (null when unknown), state label. */
    @FunctionalInterface
    private interface ReplicaSource {
        void forEach(ReplicaVisitor visitor);
    }

    @FunctionalInterface
    private interface ReplicaVisitor {
        void visit(String model, String replica, String node, ModelReplica.Status status, String state);
    }

    private static ReplicaSource clusterView(RouterView view) {
        return visitor -> view.models().forEach(m -> m.replicas().forEach(r -> visitor.visit(m.spec().id(),
                r.replicaId(), r.fresh() && r.status() != null ? r.status().node() : "", r.status(),
                ModelDescriptions.state(r).name().substring("REPLICA_STATE_".length()).toLowerCase(java.util.Locale.ROOT))));
    }

    private static ReplicaSource localReplicas(LocalReplicas local) {
        return visitor -> local.statuses().forEach(s -> visitor.visit(ReplicaId.parse(s.replicaId()).model(),
                s.replicaId(), s.node(), s, s.state().name().toLowerCase(java.util.Locale.ROOT)));
    }

    private static void batchGauge(PrometheusRegistry registry, ReplicaSource replicas, String name, String help,
                                   ToDoubleFunction<BatchScheduler.Stats> value) {
        GaugeWithCallback.builder().name(name).help(help).labelNames("model", "replica", "node")
                .callback(cb -> visitBatches(replicas, value, cb::call)).register(registry);
    }

    /** Cumulative per-replica numbers (they restart from 0 when a replica restarts, as counters may). */
    private static void batchCounter(PrometheusRegistry registry, ReplicaSource replicas, String name, String help,
                                     ToDoubleFunction<BatchScheduler.Stats> value) {
        CounterWithCallback.builder().name(name).help(help).labelNames("model", "replica", "node")
                .callback(cb -> visitBatches(replicas, value, cb::call)).register(registry);
    }

    @FunctionalInterface
    private interface LabelledValue {
        void call(double value, String... labels);
    }

    /** Each replica's batch statistic with its model, replica and node labels (replicas that reported one). */
    private static void visitBatches(ReplicaSource replicas, ToDoubleFunction<BatchScheduler.Stats> value, LabelledValue out) {
        replicas.forEach((model, replica, node, status, state) -> {
            if (status != null && status.batch() != null) {
                out.call(value.applyAsDouble(status.batch()), model, replica, status.node());
            }
        });
    }

    /** A per-replica gauge read at scrape time. */
    private static void replicaGauge(PrometheusRegistry registry, ReplicaSource replicas, String name, String help,
                                     ToDoubleFunction<ModelReplica.Status> value) {
        GaugeWithCallback.builder().name(name).help(help).labelNames("model", "replica", "node")
                .callback(cb -> replicas.forEach((model, replica, node, status, state) -> {
                    if (status != null) {
                        cb.call(value.applyAsDouble(status), model, replica, status.node());
                    }
                })).register(registry);
    }
}
