package dev.shardlight.gateway.routing;

import dev.shardlight.proto.v1.RoutingDecision;
import dev.shardlight.router.RouterView;
import io.grpc.Status;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Routes a model "auto" request: the router model scores every configured intent as a label of
 * the classification prompt ({@link LabelClassifier}); the top intent's target serves, unless its
 * probability is below {@code min-confidence} or the router model cannot answer (not served, no
 * ready replica, input too long for it, slower than {@code timeout}), in which case the fallback
 * model serves. Then the model ladder may step down to a smaller model while the chosen one is
 * overloaded. Routing itself never fails a request: every outcome is a {@link Decision} that says
 * what happened, and is counted in {@link RoutingMetrics}.
 */
public final class IntentRouter {
    private final IntentConfig config;
    private final LabelClassifier classifier;
    private final RouterView view;
    private final RoutingMetrics metrics;
    private final List<LabelClassifier.Label> labels;

    public IntentRouter(IntentConfig config, LabelClassifier classifier, RouterView view, RoutingMetrics metrics) {
        this.config = config;
        this.classifier = classifier;
        this.view = view;
        this.metrics = metrics;
        List<LabelClassifier.Label> l = new ArrayList<>();
        config.intents().forEach(i -> l.add(new LabelClassifier.Label(i.name(), i.description())));
        this.labels = List.copyOf(l);
    }

    public boolean enabled() {
        return config.enabled();
    }

    public IntentConfig config() {
        return config;
    }

    /**
     * @param intendedModel  the top intent's target (the fallback model when there was no usable answer)
     * @param routingNanos   wall time of the routing step at the gateway
     */
    public record Decision(String intent, double probability, String runnerUp, double runnerUpProbability,
                           String intendedModel, String targetModel, boolean fallback, String fallbackReason,
                           boolean steppedDown, String stepDownReason, String routerModel, long routingNanos) {
        public RoutingDecision toProto() {
            return RoutingDecision.newBuilder().setIntent(intent).setProbability((float) probability)
                    .setRunnerUp(runnerUp).setRunnerUpProbability((float) runnerUpProbability)
                    .setTargetModel(targetModel).setIntendedModel(intendedModel)
                    .setFallback(fallback).setFallbackReason(fallbackReason)
                    .setSteppedDown(steppedDown).setStepDownReason(stepDownReason)
                    .setRouterModel(routerModel).setRoutingMs(routingNanos / 1e6).build();
        }
    }

    /** Decides where {@code input} goes; completes normally in every case (see the class comment). */
    public CompletionStage<Decision> route(String input, String requestId) {
        long t0 = System.nanoTime();
        LabelClassifier.Prepared prepared;
        try {
            prepared = classifier.prepare(config.routerModel(), input, labels, config.promptTemplate(), config.examplesBlock());
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(decide(null, reason(e), t0));
        }
        return classifier.classify(prepared, requestId, config.timeout())
                .handle((result, failure) -> failure == null ? decide(result, "", t0) : decide(null, reason(failure), t0));
    }

    private Decision decide(LabelClassifier.Result result, String failure, long t0) {
        String intent = "";
        double p = 0;
        String runnerUp = "";
        double pRunnerUp = 0;
        String intended = config.fallbackModel();
        boolean fallback = true;
        String why = failure;
        if (result != null) {
            var top = result.top();
            intent = top.name();
            p = top.probability();
            if (result.runnerUp() != null) {
                runnerUp = result.runnerUp().name();
                pRunnerUp = result.runnerUp().probability();
            }
            intended = targetOf(intent);
            fallback = p < config.minConfidence();
            why = fallback ? String.format(java.util.Locale.ROOT, "top intent %s has probability %.4f, below min-confidence %.4f",
                    intent, p, config.minConfidence()) : "";
        }
        String chosen = fallback ? config.fallbackModel() : intended;
        String target = chosen;
        StringBuilder stepReason = new StringBuilder();
        int rung = config.ladder().indexOf(target);
        while (rung >= 0 && rung + 1 < config.ladder().size()) {
            String overload = overload(target);
            if (overload == null) {
                break;
            }
            String next = config.ladder().get(rung + 1);
            stepReason.append(stepReason.isEmpty() ? "" : "; ").append(overload).append(" -> ").append(next);
            metrics.stepDowns.labelValues(target, next).inc();
            target = next;
            rung++;
        }
        long nanos = System.nanoTime() - t0;
        metrics.decisions.labelValues(intent, target, String.valueOf(fallback)).inc();
        metrics.routingSeconds.labelValues(config.routerModel()).observe(nanos / 1e9);
        return new Decision(intent, p, runnerUp, pRunnerUp, fallback ? config.fallbackModel() : intended, target, fallback,
                why, !target.equals(chosen), stepReason.toString(), config.routerModel(), nanos);
    }

    private String targetOf(String intent) {
        return config.intents().stream().filter(i -> i.name().equals(intent)).findFirst().orElseThrow().target();
    }

    /**
     * Why {@code model} counts as overloaded, or null: the least loaded ready replica has more
     * than {@code queue-threshold} requests queued or running (as last reported), or none is ready.
     */
    private String overload(String model) {
        var state = view.model(model).orElse(null);
        if (state == null) {
            return model + " is not served";
        }
        int least = Integer.MAX_VALUE;
        for (RouterView.ReplicaState r : state.replicas()) {
            if (r.ready()) {
                least = Math.min(least, r.status().load());
            }
        }
        if (least == Integer.MAX_VALUE) {
            return model + " has no ready replica";
        }
        return least > config.ladderThreshold() ? model + " has " + least + " requests queued or running on its least loaded replica (threshold "
                + config.ladderThreshold() + ")" : null;
    }

    private String reason(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        Status s = Status.fromThrowable(cause);
        String what = s.getCode() == Status.Code.UNKNOWN ? cause.toString() : s.getCode() + ": " + s.getDescription();
        return "router model " + config.routerModel() + " gave no answer (" + what + ")";
    }
}
