package dev.shardlight.engine.runtime;

import dev.shardlight.engine.model.ModelConfig;

/**
 * The model's forward pass on one backend. This is the seam where a GPU backend plugs in: it
 * receives the whole model once, may keep weights, activations and caches resident on its device
 * and run each layer (or step) as one plan; callers only see tokens in and logits out.
 */
public interface ForwardPass extends AutoCloseable {

    ModelConfig config();

    /** Name of the backend and kernels, for logs and benchmarks. */
    String backend();

    /** A new, empty cache for one sequence of at most {@code maxLength} positions. */
    KvCache newCache(int maxLength);

    /**
     * Runs {@code tokens[offset .. offset+count)} at positions {@code cache.length()} onwards,
     * appending their keys and values to the cache. Prompts are processed as batches (matrix x
     * matrix). When {@code allPositions}, {@code logits} receives {@code count * vocab} values (one
     * row per token); otherwise only the last token's {@code vocab} logits.
     */
    void forward(KvCache cache, int[] tokens, int offset, int count, float[] logits, boolean allPositions);

    @Override
    default void close() {
    }
}
