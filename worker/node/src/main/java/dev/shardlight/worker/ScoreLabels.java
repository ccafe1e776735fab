package dev.shardlight.worker;

import dev.shardlight.engine.runtime.LabelScorer;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Ask a replica for the log-likelihood of each label continuation after {@code prompt} (intent
 * routing and the public Classify call). The replica runs it on its engine thread, between
 * sequences, with {@link LabelScorer}: one prompt prefill, then each label on the prompt's KV
 * cache. Replies exactly one {@link Scored} or {@link Refused}. {@code deadlineEpochMillis} (0:
 * none) is checked when the work starts: an expired request is refused instead of computed.
 */
public record ScoreLabels(String requestId, int[] prompt, int[][] labels, long deadlineEpochMillis,
                          ActorRef<Reply> replyTo) implements ModelReplica.Command {

    public interface Reply extends ClusterMessage {
        String requestId();
    }

    /**
     * @param logLikelihoods one per label, in request order: sum of the label tokens' log-probabilities
     * @param tokenLogprobs  per label, each token's log-probability given the prompt and the label tokens before it
     * @param engineNanos    time on the engine thread (forward passes and log-softmax)
     */
    public record Scored(String requestId, String replicaId, double[] logLikelihoods, float[][] tokenLogprobs,
                         int forwardPasses, long engineNanos) implements Reply {
    }

    /** {@code refusal} as for Generate: INVALID names the field, UNAVAILABLE means try another replica. */
    public record Refused(String requestId, ModelReplica.Refusal refusal, String message) implements Reply {
    }

    /** Engine thread: scores, or says why not; never throws. */
    Reply runOn(ReplicaEngine engine, String replicaId) {
        if (deadlineEpochMillis > 0 && System.currentTimeMillis() > deadlineEpochMillis) {
            return new Refused(requestId, ModelReplica.Refusal.UNAVAILABLE, "deadline exceeded while queued on " + replicaId);
        }
        try {
            LabelScorer.Scores s = engine.score(prompt, labels);
            double[] ll = new double[s.labels().size()];
            float[][] tokens = new float[ll.length][];
            for (int k = 0; k < ll.length; k++) {
                ll[k] = s.labels().get(k).logLikelihood();
                tokens[k] = s.labels().get(k).tokenLogprobs();
            }
            return new Scored(requestId, replicaId, ll, tokens, s.forwardPasses(), s.nanos());
        } catch (IllegalArgumentException e) {
            return new Refused(requestId, ModelReplica.Refusal.INVALID, e.getMessage());
        } catch (RuntimeException | Error e) {
            return new Refused(requestId, ModelReplica.Refusal.UNAVAILABLE, "engine failed on " + replicaId + ": " + e);
        }
    }
}
