package dev.shardlight.gateway.routing;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/** Intent routing and classification metrics (Prometheus conventions, as ServingMetrics). */
public final class RoutingMetrics {
    private static final double[] BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

    final Counter decisions;
    final Counter stepDowns;
    final Histogram routingSeconds;
    final Counter classifications;

    public RoutingMetrics(PrometheusRegistry registry) {
        decisions = Counter.builder().name("shardlight_routing_decisions_total")
                .help("Model \"auto\" requests by chosen intent (\"\" when the classifier gave none), serving model and whether the fallback was used")
                .labelNames("intent", "target", "fallback").register(registry);
        stepDowns = Counter.builder().name("shardlight_routing_step_downs_total")
                .help("Requests the model ladder moved to a smaller model because the intended one was overloaded")
                .labelNames("from", "to").register(registry);
        routingSeconds = Histogram.builder().name("shardlight_routing_duration_seconds")
                .help("Time the intent router took per model \"auto\" request (tokenize, score on the router model, decide)")
                .labelNames("router_model").classicUpperBounds(BUCKETS).classicOnly().register(registry);
        classifications = Counter.builder().name("shardlight_classify_requests_total")
                .help("Classify calls by model and final gRPC status code").labelNames("model", "status").register(registry);
    }
}
