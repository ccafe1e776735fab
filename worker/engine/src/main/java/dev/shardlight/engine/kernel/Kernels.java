package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.WeightMatrix;

/**
 * The operations a forward pass is made of, on activations held in float arrays (float32, as
 * Hugging Face computes them) and weights held in place in their storage type.
 *
 * <p>Two implementations exist: {@link ScalarKernels}, a plain-loop reference that is easy to
 * check against the specifications, and the Vector API implementation used for speed. A
 * differential test holds every operation of every implementation, for every weight type, to the
 * scalar reference. A GPU backend does not implement this per-op interface; it plugs in at the
 * {@link dev.shardlight.engine.runtime.ForwardPass} level so that weights, activations and the KV
 * cache stay resident on the device for a whole step.
 *
 * <p>Arrays are addressed as (array, offset); batched operands are row-major
 * ({@code [batch][width]}). Implementations may use several threads inside a call but return only
 * when the result is complete.
 */
public interface Kernels {

    String name();

    /**
     * Matrix times a batch of vectors: {@code out[b*w.rows() + r] = sum_c w[r][c] * x[b*w.cols() + c]}
     * for {@code b < batch}. Weights are read once per call for the whole batch where the
     * implementation can (prefill is matrix x matrix).
     */
    void matmul(WeightMatrix w, float[] x, float[] out, int batch);

    /** Dequantizes row {@code row} of {@code w} into {@code out[outOffset .. outOffset + w.cols())}. */
    void dequantizeRow(WeightMatrix w, int row, float[] out, int outOffset);

    /**
     * RMSNorm of {@code count} consecutive vectors of length {@code n}, in place or into {@code out}:
     * {@code out = x / sqrt(mean(x^2) + eps) * (weightOffset + weight)}. Gemma checkpoints from
     * Hugging Face pass weightOffset 1 ((1 + w), computed in float32); GGUF files already hold 1 + w
     * and Llama uses w, so they pass 0.
     */
    void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, int n, int count,
                 float[] weight, float weightOffset, float eps);

    /**
     * Rotary position embedding on {@code nHeads} heads of {@code headDim} at {@code offset}, for a
     * token at position {@code pos}, with the inverse frequencies {@code invFreq[headDim/2]}
     * (scaling already folded in). {@code neox} pairs element i with i + headDim/2 (Hugging Face's
     * rotate_half, and Gemma in GGUF); otherwise pairs are (2i, 2i+1) (llama in GGUF, whose
     * converter permuted the Q/K rows). Angles are computed as float32 pos * invFreq[i].
     */
    void rope(float[] x, int offset, int nHeads, int headDim, int pos, float[] invFreq, boolean neox);

    /**
     * {@code heads} query heads that share one key/value head attending over cached keys/values at
     * positions {@code from..to} (inclusive) of a paged cache: position p sits in slot {@link #slot(int[], int, int)
     * (blocks[p >> blockShift] << blockShift) | (p & (2^blockShift - 1))}, i.e. the cache is made
     * of blocks of {@code 2^blockShift} consecutive positions whose physical block numbers
     * {@code blocks} lists. Each slot holds {@code kvStride} floats and the shared key/value head
     * starts {@code kvOffset} into the slot. Query head h is {@code q[qOffset + h*headDim ..)} and
     * its output goes to {@code out[outOffset + h*headDim ..+headDim)}. Scores are
     * {@code scale * q.k}, softmax in float32 per head. {@code scratch} has room for
     * {@code heads * (to - from + 1)} floats.
     */
    void attention(float[] q, int qOffset, int heads, float[] keys, float[] values, int kvStride, int kvOffset,
                   int headDim, int from, int to, int[] blocks, int blockShift, float scale,
                   float[] out, int outOffset, float[] scratch);

    /** The physical slot of position {@code p} in a paged cache (see {@link #attention}). */
    static int slot(int[] blocks, int blockShift, int p) {
        return (blocks[p >>> blockShift] << blockShift) | (p & ((1 << blockShift) - 1));
    }

    /** gate[i] = gelu_tanh(gate[i]) * up[i] for i < n (Gemma's gated GELU, tanh approximation). */
    void geluTanhMul(float[] gate, float[] up, int n);

    /** gate[i] = silu(gate[i]) * up[i] for i < n (Llama's SwiGLU). */
    void siluMul(float[] gate, float[] up, int n);

    /** a[i] += b[i] for i < n. */
    void add(float[] a, float[] b, int n);

    /** x[i] *= s for i < n. */
    void scale(float[] x, int n, float s);

    /**
     * Runs {@code task.accept(i)} for every i < count and returns when all are done, in parallel
     * where the implementation has threads (the forward pass runs attention heads this way). Tasks
     * must not call back into this method.
     */
    void forEach(int count, java.util.function.IntConsumer task);
}
