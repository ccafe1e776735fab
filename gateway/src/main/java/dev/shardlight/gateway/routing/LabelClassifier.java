package dev.shardlight.gateway.routing;

import dev.shardlight.gateway.PromptCodec;
import dev.shardlight.router.ReplicaDirectory;
import dev.shardlight.router.RouterView;
import dev.shardlight.worker.ModelReplica;
import dev.shardlight.worker.ScoreLabels;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Zero-shot classification on a served model: renders the classification prompt, tokenizes it and
 * each label with the model's own tokenizer, and asks a replica of the model (chosen by the
 * router as for Generate: least loaded, another one when a replica refuses) to score the labels
 * ({@link ScoreLabels}). Probabilities are the softmax of the labels' log-likelihoods.
 *
 * <p>A label is scored as the text {@code " " + name} following the prompt. Its tokens are those
 * the tokenizer gives the prompt and label together, past the prompt's own tokens, so a label is
 * tokenized as it would appear in running text; where the two do not share the prompt's tokens
 * as a prefix (a merge across the boundary), the label is tokenized on its own.
 */
public final class LabelClassifier {
    private static final int MAX_ATTEMPTS = 3;

    private final ActorSystem<?> system;
    private final ActorRef<ReplicaDirectory.Command> directory;
    private final RouterView view;
    private final PromptCodec.Registry codecs;
    private final ClusterSharding sharding;

    public LabelClassifier(ActorSystem<?> system, ActorRef<ReplicaDirectory.Command> directory, RouterView view,
                           PromptCodec.Registry codecs) {
        this.system = system;
        this.directory = directory;
        this.view = view;
        this.codecs = codecs;
        this.sharding = ClusterSharding.get(system);
    }

    public record Label(String name, String description) {
    }

    /** One label's result; {@code probability} is normalized over the labels of the call. */
    public record Scored(String name, double logLikelihood, double probability, int tokens) {
    }

    /** @param scores in request order */
    public record Result(String model, String replica, List<Scored> scores, int promptTokens, long engineNanos) {
        public Scored top() {
            return ranked().get(0);
        }

        /** null with a single label. */
        public Scored runnerUp() {
            return scores.size() < 2 ? null : ranked().get(1);
        }

        private List<Scored> ranked() {
            List<Scored> r = new ArrayList<>(scores);
            r.sort((a, b) -> Double.compare(b.logLikelihood(), a.logLikelihood()));
            return r;
        }
    }

    /** The encoded request: checked on the caller's thread, so refusals are immediate and leave nothing behind. */
    public record Prepared(String model, int[] prompt, int[][] labels, List<Label> names) {
    }

    /**
     * Renders and encodes; throws INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION as a
     * {@link StatusRuntimeException} naming the field.
     */
    public Prepared prepare(String model, String input, List<Label> labels, String template) {
        return prepare(model, input, labels, template, "");
    }

    /** As above; {@code examples} fills the template's {examples} (few-shot block). */
    public Prepared prepare(String model, String input, List<Label> labels, String template, String examples) {
        if (model.isEmpty()) {
            throw invalid("model: required");
        }
        RouterView.ModelState state = view.model(model).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("model \"" + model + "\" is not served here; served models: "
                        + String.join(", ", view.models().stream().map(m -> m.spec().id()).toList()))
                .asRuntimeException());
        if (!state.replicas().isEmpty() && state.replicas().stream().allMatch(r -> r.fresh() && r.status() != null
                && r.status().state() == ModelReplica.State.FAILED)) {
            throw Status.UNAVAILABLE.withDescription("all " + state.replicas().size() + " replicas of " + model
                    + " failed to load (" + state.replicas().get(0).status().message() + ")").asRuntimeException();
        }
        if (labels.isEmpty()) {
            throw invalid("labels: none given; at least one label is needed");
        }
        if (labels.size() > dev.shardlight.engine.runtime.LabelScorer.MAX_LABELS) {
            throw invalid("labels: " + labels.size() + " given, at most " + dev.shardlight.engine.runtime.LabelScorer.MAX_LABELS);
        }
        Set<String> seen = new HashSet<>();
        for (int k = 0; k < labels.size(); k++) {
            String name = labels.get(k).name();
            if (name.isBlank()) {
                throw invalid("labels[" + k + "].name is empty");
            }
            if (!seen.add(name)) {
                throw invalid("labels[" + k + "].name \"" + name + "\" is given twice");
            }
        }
        if (input.isEmpty()) {
            throw invalid("input: empty");
        }
        if (!template.contains("{input}")) {
            throw invalid("prompt_template must contain {input}");
        }
        PromptCodec codec = codecs.forModel(model).orElseThrow(() -> Status.FAILED_PRECONDITION
                .withDescription("model " + model + " is served without a tokenizer; classification needs one").asRuntimeException());
        StringBuilder list = new StringBuilder();
        for (Label l : labels) {
            list.append(list.isEmpty() ? "" : "\n").append("- ").append(l.name())
                    .append(l.description().isEmpty() ? "" : ": " + l.description());
        }
        String text = render(template, Map.of("labels", list.toString(), "input", input, "examples", examples));
        int[] prompt = codec.encode(text);
        int[] bosOnly = codec.encode("");
        int[][] ids = new int[labels.size()][];
        int longest = 0;
        for (int k = 0; k < ids.length; k++) {
            String continuation = " " + labels.get(k).name();
            int[] joint = codec.encode(text + continuation);
            ids[k] = startsWith(joint, prompt) ? Arrays.copyOfRange(joint, prompt.length, joint.length)
                    : stripPrefix(codec.encode(continuation), bosOnly);
            if (ids[k].length == 0) {
                throw invalid("labels[" + k + "].name \"" + labels.get(k).name() + "\" encodes to no tokens");
            }
            if (ids[k].length > dev.shardlight.engine.runtime.LabelScorer.MAX_LABEL_TOKENS) {
                throw invalid("labels[" + k + "].name is " + ids[k].length + " tokens long, at most "
                        + dev.shardlight.engine.runtime.LabelScorer.MAX_LABEL_TOKENS);
            }
            longest = Math.max(longest, ids[k].length);
        }
        int context = state.contextLength();
        if (prompt.length + longest - 1 > context) {
            throw invalid("the classification prompt (" + prompt.length + " tokens) + the longest label (" + longest
                    + " tokens) exceeds the context length of " + model + " (" + context + " tokens)");
        }
        return new Prepared(model, prompt, ids, List.copyOf(labels));
    }

    /** Scores a prepared request on a replica of its model; fails with a gRPC status. */
    public CompletionStage<Result> classify(Prepared p, String requestId, Duration timeout) {
        long deadline = System.currentTimeMillis() + timeout.toMillis();
        CompletableFuture<Result> out = new CompletableFuture<>();
        attempt(p, requestId, deadline, new HashSet<>(), "", out);
        return out;
    }

    private void attempt(Prepared p, String requestId, long deadline, Set<String> tried, String lastRefusal,
                         CompletableFuture<Result> out) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
            out.completeExceptionally(Status.DEADLINE_EXCEEDED.withDescription("classification on " + p.model()
                    + " did not finish in time" + (lastRefusal.isEmpty() ? "" : " (" + lastRefusal + ")")).asRuntimeException());
            return;
        }
        if (tried.size() >= MAX_ATTEMPTS) {
            out.completeExceptionally(Status.UNAVAILABLE.withDescription("no replica of " + p.model()
                    + " scored the labels after " + tried.size() + " attempts: " + lastRefusal).asRuntimeException());
            return;
        }
        Duration wait = Duration.ofMillis(left);
        AskPattern.<ReplicaDirectory.Command, ReplicaDirectory.Picked>ask(directory,
                        replyTo -> new ReplicaDirectory.Pick(p.model(), Set.copyOf(tried), replyTo), wait, system.scheduler())
                .whenComplete((picked, failure) -> {
                    if (failure != null) {
                        out.completeExceptionally((System.currentTimeMillis() >= deadline ? Status.DEADLINE_EXCEEDED : Status.INTERNAL)
                                .withDescription("router did not pick a replica of " + p.model() + ": " + failure).asRuntimeException());
                        return;
                    }
                    if (picked.replicaId() == null) {
                        out.completeExceptionally(Status.UNAVAILABLE.withDescription(picked.message()
                                + (lastRefusal.isEmpty() ? "" : " (" + lastRefusal + ")")).asRuntimeException());
                        return;
                    }
                    String replica = picked.replicaId();
                    tried.add(replica);
                    sharding.entityRefFor(ModelReplica.TYPE_KEY, replica)
                            .<ScoreLabels.Reply>ask(replyTo -> new ScoreLabels(requestId, p.prompt(), p.labels(), deadline, replyTo),
                                    Duration.ofMillis(Math.max(1, deadline - System.currentTimeMillis())))
                            .whenComplete((reply, err) -> {
                                directory.tell(new ReplicaDirectory.Release(replica));
                                if (err != null) {
                                    out.completeExceptionally(Status.DEADLINE_EXCEEDED.withDescription("replica " + replica
                                            + " did not score the labels within " + wait.toMillis() + " ms").asRuntimeException());
                                } else if (reply instanceof ScoreLabels.Scored s) {
                                    out.complete(result(p, s));
                                } else if (reply instanceof ScoreLabels.Refused r) {
                                    if (r.refusal() == ModelReplica.Refusal.INVALID) {
                                        out.completeExceptionally(invalid(r.message()));
                                    } else {
                                        attempt(p, requestId, deadline, tried, "replica " + replica + ": " + r.message(), out);
                                    }
                                }
                            });
                });
    }

    private static Result result(Prepared p, ScoreLabels.Scored s) {
        double[] ll = s.logLikelihoods();
        double max = Double.NEGATIVE_INFINITY;
        for (double v : ll) {
            max = Math.max(max, v);
        }
        double z = 0;
        for (double v : ll) {
            z += Math.exp(v - max);
        }
        List<Scored> scores = new ArrayList<>();
        for (int k = 0; k < ll.length; k++) {
            scores.add(new Scored(p.names().get(k).name(), ll[k], Math.exp(ll[k] - max) / z, p.labels()[k].length));
        }
        return new Result(p.model(), s.replicaId(), List.copyOf(scores), p.prompt().length, s.engineNanos());
    }

    /** One pass over the template, so placeholders inside substituted text stay as they are. */
    static String render(String template, Map<String, String> values) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < template.length()) {
            int open = template.indexOf('{', i);
            if (open < 0) {
                break;
            }
            int close = template.indexOf('}', open);
            String key = close < 0 ? null : template.substring(open + 1, close);
            if (key != null && values.containsKey(key)) {
                out.append(template, i, open).append(values.get(key));
                i = close + 1;
            } else {
                out.append(template, i, open + 1);
                i = open + 1;
            }
        }
        return out.append(template.substring(i)).toString();
    }

    private static boolean startsWith(int[] ids, int[] prefix) {
        return ids.length > prefix.length && Arrays.equals(ids, 0, prefix.length, prefix, 0, prefix.length);
    }

    private static int[] stripPrefix(int[] ids, int[] prefix) {
        return ids.length >= prefix.length && Arrays.equals(ids, 0, prefix.length, prefix, 0, prefix.length)
                ? Arrays.copyOfRange(ids, prefix.length, ids.length) : ids;
    }

    static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }
}
