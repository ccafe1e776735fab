package dev.shardlight.worker;

import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.LabelScorer;
import dev.shardlight.engine.runtime.SamplingParams;

import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * What a {@link ModelReplica} needs from an engine: one sequence at a time, run on the caller's
 * thread (the replica's dedicated engine thread, never an actor dispatcher). {@link EngineReplica}
 * is the real one; control-plane tests use a scripted double.
 */
public interface ReplicaEngine extends AutoCloseable {

    /** What the loaded model is; fixed once loaded. */
    Info info();

    /**
     * Prefills {@code prompt} and decodes until a stop id, {@code maxTokens} or {@code cancelled}
     * (polled before every decode step). {@code onToken} sees each token as it is chosen and may
     * block (that is how a slow reader slows its own stream).
     */
    default Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens,
                                IntConsumer onToken, BooleanSupplier cancelled) {
        return generate(prompt, maxTokens, sampling, stopTokens, -1, (token, lp) -> onToken.accept(token), cancelled);
    }

    /**
     * As above; with {@code logprobs >= 0} each token comes with its log-probability and the
     * {@code logprobs} most likely alternatives at that step (raw log-softmax, highest first);
     * with {@code logprobs < 0} the observer sees null logprobs.
     */
    Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens, int logprobs,
                        Generator.TokenObserver onToken, BooleanSupplier cancelled);

    /**
     * Log-likelihood of each label continuation after {@code prompt} ({@link LabelScorer}), on the
     * caller's thread like {@link #generate}.
     *
     * @throws IllegalArgumentException for input the model cannot score (the message says why)
     */
    default LabelScorer.Scores score(int[] prompt, int[][] labels) {
        throw new UnsupportedOperationException("this engine (" + info().backend() + ") does not score labels");
    }

    /** Bytes of KV cache held by the running sequence; 0 when idle. */
    long kvBytesInUse();

    @Override
    default void close() {
    }

    /**
     * @param contextLength the model's own context (the replica caps it by the declared one)
     */
    record Info(String architecture, int contextLength, int vocab, String backend) implements ClusterMessage {
    }

    /** Opens the engine for a declared model; runs on the engine thread (loading maps files). */
    @FunctionalInterface
    interface Factory {
        ReplicaEngine open(ModelSpec spec) throws Exception;
    }
}
