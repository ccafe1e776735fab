package dev.shardlight.worker;

import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.LabelScorer;
import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.engine.runtime.TokenLogprobs;

import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * What a {@link ModelReplica} needs from an engine: a continuous-batching scheduler driven from
 * the replica's dedicated engine thread (never an actor dispatcher). Sequences are submitted, then
 * every {@link #step()} advances all running sequences by one batched iteration, handing tokens
 * and ends to each sequence's {@link BatchScheduler.Sink}. {@link EngineReplica} is the real one;
 * control-plane tests use a scripted double.
 */
public interface ReplicaEngine extends AutoCloseable {

    /** What the loaded model is; fixed once loaded. */
    Info info();

    /** Why a request of this size can never run here (context, KV pool), or null. Any thread. */
    String refusal(int promptTokens, int maxTokens);

    /** Engine thread: queues a sequence for the next step. */
    void submit(BatchScheduler.Request request, BatchScheduler.Sink sink);

    /** Engine thread: one batched iteration; false when nothing could run. */
    boolean step();

    /** Engine thread: whether sequences are waiting or running. */
    boolean busy();

    /** The scheduler's latest snapshot (batch size, KV blocks, prefix cache, preemptions); any thread. */
    BatchScheduler.Stats stats();

    /** Bytes of KV cache held by sequences (and unused cached prefixes not counted); any thread. */
    default long kvBytesInUse() {
        BatchScheduler.Stats s = stats();
        return (long) (s.kvBlocksUsed()) * s.kvBytesPerBlock();
    }

    /**
     * Runs one sequence to its end on the calling thread, for an engine that serves nothing else
     * (the engine-direct baseline of tests and benchmarks). {@code logprobs} &lt; 0 asks for none.
     */
    default Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens, int logprobs,
                                Generator.TokenObserver onToken, BooleanSupplier cancelled) {
        int[] out = new int[maxTokens];
        int[] produced = {0};
        BatchScheduler.Result[] end = {null};
        submit(new BatchScheduler.Request("direct", "direct", 0, 1.0, prompt, maxTokens, sampling, stopTokens, logprobs),
                new BatchScheduler.Sink() {
                    @Override
                    public boolean ready() {
                        return true;
                    }

                    @Override
                    public boolean cancelled() {
                        return cancelled != null && cancelled.getAsBoolean();
                    }

                    @Override
                    public void token(int token, TokenLogprobs lp) {
                        out[produced[0]++] = token;
                        if (onToken != null) {
                            onToken.onToken(token, lp);
                        }
                    }

                    @Override
                    public void finished(BatchScheduler.Result r) {
                        end[0] = r;
                    }
                });
        while (busy()) {
            step();
        }
        if (end[0].outcome() == BatchScheduler.Outcome.ERROR) {
            throw new IllegalStateException(end[0].message());
        }
        Generation.FinishReason reason = switch (end[0].outcome()) {
            case STOP -> Generation.FinishReason.STOP;
            case CANCELLED -> Generation.FinishReason.CANCELLED;
            default -> Generation.FinishReason.LENGTH;
        };
        return new Generation(prompt.clone(), java.util.Arrays.copyOf(out, produced[0]), reason, 0, 0);
    }

    /** As above without logprobs. */
    default Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens,
                                IntConsumer onToken, BooleanSupplier cancelled) {
        return generate(prompt, maxTokens, sampling, stopTokens, -1, (token, lp) -> onToken.accept(token), cancelled);
    }

    /**
     * Engine thread, between steps: log-likelihood of each label continuation after {@code prompt}
     * ({@link LabelScorer}).
     *
     * @throws IllegalArgumentException for input the model cannot score (the message says why)
     */
    default LabelScorer.Scores score(int[] prompt, int[][] labels) {
        throw new UnsupportedOperationException("this engine (" + info().backend() + ") does not score labels");
    }

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
