package dev.shardlight.gateway.routing;

import dev.shardlight.proto.v1.Chat;
import dev.shardlight.proto.v1.ClassifyRequest;
import dev.shardlight.proto.v1.ClassifyResponse;
import dev.shardlight.proto.v1.LabelScore;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/**
 * The public Classify call: validates and encodes on the gRPC thread (a refusal touches no
 * replica), scores on a replica of the named model, answers with every label's probability and
 * log-likelihood. Bounded by the call's deadline, else {@link #DEFAULT_TIMEOUT}.
 */
public final class ClassifyCall {
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private final LabelClassifier classifier;
    private final RoutingMetrics metrics;

    public ClassifyCall(LabelClassifier classifier, RoutingMetrics metrics) {
        this.classifier = classifier;
        this.metrics = metrics;
    }

    public void handle(ClassifyRequest r, StreamObserver<ClassifyResponse> observer) {
        long t0 = System.nanoTime();
        String requestId = r.getRequestId().isEmpty() ? UUID.randomUUID().toString() : r.getRequestId();
        LabelClassifier.Prepared prepared;
        try {
            if (r.getRequestId().length() > 128) {
                throw LabelClassifier.invalid("request_id: " + r.getRequestId().length() + " characters, at most 128");
            }
            List<LabelClassifier.Label> labels = new ArrayList<>();
            r.getLabelsList().forEach(l -> labels.add(new LabelClassifier.Label(l.getName(), l.getDescription())));
            String input = switch (r.getInputCase()) {
                case TEXT -> r.getText();
                case CHAT -> chatAsText(r.getChat());
                default -> throw LabelClassifier.invalid("input: set text or chat");
            };
            String template = r.getPromptTemplate().isEmpty() ? IntentConfig.DEFAULT_TEMPLATE : r.getPromptTemplate();
            prepared = classifier.prepare(r.getModel(), input, labels, template);
        } catch (RuntimeException e) {
            fail(r.getModel(), observer, e);
            return;
        }
        Deadline deadline = Context.current().getDeadline();
        Duration timeout = deadline == null ? DEFAULT_TIMEOUT
                : Duration.ofMillis(Math.max(1, deadline.timeRemaining(TimeUnit.MILLISECONDS)));
        classifier.classify(prepared, requestId, timeout).whenComplete((result, failure) -> {
            if (failure != null) {
                fail(r.getModel(), observer, failure);
                return;
            }
            ClassifyResponse.Builder b = ClassifyResponse.newBuilder().setModel(result.model()).setReplica(result.replica())
                    .setPromptTokens(result.promptTokens()).setRequestId(requestId)
                    .setEngineMs(result.engineNanos() / 1e6);
            result.scores().forEach(s -> b.addScores(LabelScore.newBuilder().setLabel(s.name())
                    .setProbability(s.probability()).setLogLikelihood(s.logLikelihood()).setTokens(s.tokens())));
            b.setTopLabel(result.top().name()).setTopProbability((float) result.top().probability());
            if (result.runnerUp() != null) {
                b.setRunnerUp(result.runnerUp().name()).setRunnerUpProbability((float) result.runnerUp().probability());
            }
            b.setDurationMs((System.nanoTime() - t0) / 1e6);
            metrics.classifications.labelValues(r.getModel(), "OK").inc();
            observer.onNext(b.build());
            observer.onCompleted();
        });
    }

    /** A conversation as the classifier sees it: one "role: content" line per message. */
    public static String chatAsText(Chat chat) {
        if (chat.getMessagesCount() == 0) {
            throw LabelClassifier.invalid("chat.messages: empty");
        }
        StringBuilder b = new StringBuilder();
        chat.getMessagesList().forEach(m -> b.append(b.isEmpty() ? "" : "\n").append(m.getRole()).append(": ").append(m.getContent()));
        return b.toString();
    }

    private void fail(String model, StreamObserver<ClassifyResponse> observer, Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        Status s = Status.fromThrowable(cause);
        if (s.getCode() == Status.Code.UNKNOWN) {
            s = Status.INTERNAL.withDescription("classification failed: " + cause);
        }
        metrics.classifications.labelValues(model, s.getCode().name()).inc();
        observer.onError(s.asRuntimeException());
    }
}
