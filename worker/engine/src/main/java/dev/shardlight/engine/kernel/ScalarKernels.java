package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * The plain-loop reference: every operation written the way its specification states it, one
 * element at a time, single-threaded. Dequantization follows ggml's {@code dequantize_row_*}
 * (ggml/src/ggml-quants.c) operation for operation so that it matches ggml and gguf-py bit for
 * bit; the float ops follow Hugging Face transformers in float32.
 */
public final class ScalarKernels implements Kernels {

    static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** sqrt(2 / pi), as torch's gelu(approximate="tanh") uses it. */
    static final float SQRT_2_OVER_PI = 0.7978845608028654f;
    static final float GELU_COEF = 0.044715f;

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void matmul(WeightMatrix w, float[] x, float[] out, int batch) {
        checkMatmul(w, x, out, batch);
        int rows = w.rows();
        int cols = w.cols();
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            dequantizeRow(w, r, row, 0);
            for (int b = 0; b < batch; b++) {
                float sum = 0f;
                int xo = b * cols;
                for (int c = 0; c < cols; c++) {
                    sum += row[c] * x[xo + c];
                }
                out[b * rows + r] = sum;
            }
        }
    }

    static void checkMatmul(WeightMatrix w, float[] x, float[] out, int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch " + batch);
        }
        if ((long) batch * w.cols() > x.length || (long) batch * w.rows() > out.length) {
            throw new IllegalArgumentException(w.name() + " [" + w.rows() + " x " + w.cols() + "] x batch "
                    + batch + ": input has " + x.length + " floats, output " + out.length);
        }
    }

    @Override
    public void dequantizeRow(WeightMatrix w, int row, float[] out, int outOffset) {
        dequantize(w.type(), w.data(), w.rowOffset(row), w.cols(), out, outOffset);
    }

    /** Dequantizes {@code n} elements stored in {@code type} at byte {@code offset} of {@code seg}. */
    public static void dequantize(GgmlType type, MemorySegment seg, long offset, int n, float[] out, int o) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    out[o + i] = seg.get(FLOAT_LE, offset + 4L * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[o + i] = Float.float16ToFloat(seg.get(SHORT_LE, offset + 2L * i));
                }
            }
            case BF16 -> {
                // bfloat16 is the upper half of a float32 (ggml_compute_bf16_to_fp32).
                for (int i = 0; i < n; i++) {
                    out[o + i] = Float.intBitsToFloat(seg.get(SHORT_LE, offset + 2L * i) << 16);
                }
            }
            case Q8_0 -> {
                for (int blk = 0; blk < n / 32; blk++) {
                    long b = offset + blk * 34L;
                    float d = f16(seg, b);
                    for (int j = 0; j < 32; j++) {
                        out[o + blk * 32 + j] = seg.get(ValueLayout.JAVA_BYTE, b + 2 + j) * d;
                    }
                }
            }
            case Q4_0 -> {
                for (int blk = 0; blk < n / 32; blk++) {
                    long b = offset + blk * 18L;
                    float d = f16(seg, b);
                    int y = o + blk * 32;
                    for (int j = 0; j < 16; j++) {
                        int q = u8(seg, b + 2 + j);
                        out[y + j] = ((q & 0xF) - 8) * d;
                        out[y + j + 16] = ((q >> 4) - 8) * d;
                    }
                }
            }
            case Q4_K -> {
                for (int blk = 0; blk < n / 256; blk++) {
                    dequantizeQ4K(seg, offset + blk * 144L, out, o + blk * 256);
                }
            }
            case Q6_K -> {
                for (int blk = 0; blk < n / 256; blk++) {
                    dequantizeQ6K(seg, offset + blk * 210L, out, o + blk * 256);
                }
            }
        }
    }

    /** ggml dequantize_row_q4_K for one block: {@code f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}. */
    static void dequantizeQ4K(MemorySegment seg, long b, float[] out, int y) {
        float d = f16(seg, b);
        float dmin = f16(seg, b + 2);
        long scales = b + 4;
        long q = b + 16;
        int is = 0;
        for (int j = 0; j < 256; j += 64) {
            int packed1 = scaleMinK4(is, seg, scales);
            int packed2 = scaleMinK4(is + 1, seg, scales);
            float d1 = d * (packed1 & 0xFF);
            float m1 = dmin * (packed1 >>> 8);
            float d2 = d * (packed2 & 0xFF);
            float m2 = dmin * (packed2 >>> 8);
            for (int l = 0; l < 32; l++) {
                out[y + j + l] = d1 * (u8(seg, q + l) & 0xF) - m1;
            }
            for (int l = 0; l < 32; l++) {
                out[y + j + 32 + l] = d2 * (u8(seg, q + l) >> 4) - m2;
            }
            q += 32;
            is += 2;
        }
    }

    /**
     * ggml get_scale_min_k4: the 6-bit scale and min of sub-block {@code j} (0..7) from the 12 packed
     * bytes at {@code s}; returns {@code scale | min << 8}. Sub-blocks 0-3 keep both in the low six
     * bits of bytes j and j+4; sub-blocks 4-7 take their low four bits from byte j+4 and their top two
     * from the spare high bits of bytes j-4 (scale) and j (min).
     */
    static int scaleMinK4(int j, MemorySegment seg, long s) {
        int sc;
        int m;
        if (j < 4) {
            sc = u8(seg, s + j) & 63;
            m = u8(seg, s + j + 4) & 63;
        } else {
            sc = (u8(seg, s + j + 4) & 0xF) | ((u8(seg, s + j - 4) >> 6) << 4);
            m = (u8(seg, s + j + 4) >> 4) | ((u8(seg, s + j) >> 6) << 4);
        }
        return sc | m << 8;
    }

    /** ggml dequantize_row_q6_K for one block: {@code u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}. */
    static void dequantizeQ6K(MemorySegment seg, long b, float[] out, int y) {
        float d = f16(seg, b + 208);
        long ql = b;
        long qh = b + 128;
        long sc = b + 192;
        for (int half = 0; half < 2; half++) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int qlA = u8(seg, ql + l);
                int qlB = u8(seg, ql + l + 32);
                int h = u8(seg, qh + l);
                int q1 = ((qlA & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((qlB & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((qlA >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((qlB >> 4) | (((h >> 6) & 3) << 4)) - 32;
                // ggml evaluates d * sc[is] * q left to right: two float roundings.
                out[y + l] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is) * q1;
                out[y + l + 32] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is + 2) * q2;
                out[y + l + 64] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is + 4) * q3;
                out[y + l + 96] = d * seg.get(ValueLayout.JAVA_BYTE, sc + is + 6) * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }

    static float f16(MemorySegment seg, long offset) {
        return Float.float16ToFloat(seg.get(SHORT_LE, offset));
    }

    static int u8(MemorySegment seg, long offset) {
        return seg.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    @Override
    public void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, int n, int count,
                        float[] weight, float weightOffset, float eps) {
        for (int v = 0; v < count; v++) {
            int xo = xOffset + v * n;
            int oo = outOffset + v * n;
            float sumSquares = 0f;
            for (int i = 0; i < n; i++) {
                sumSquares += x[xo + i] * x[xo + i];
            }
            float inv = rsqrt(sumSquares / n + eps);
            for (int i = 0; i < n; i++) {
                out[oo + i] = x[xo + i] * inv * (weightOffset + weight[i]);
            }
        }
    }

    /** torch.rsqrt in float32: the correctly rounded 1/sqrt of a float. */
    static float rsqrt(float v) {
        return (float) (1.0 / Math.sqrt(v));
    }

    @Override
    public void rope(float[] x, int offset, int nHeads, int headDim, int pos, float[] invFreq, boolean neox) {
        int half = headDim / 2;
        for (int h = 0; h < nHeads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < half; i++) {
                float angle = pos * invFreq[i];
                float cos = (float) Math.cos(angle);
                float sin = (float) Math.sin(angle);
                int a = neox ? base + i : base + 2 * i;
                int b = neox ? base + i + half : base + 2 * i + 1;
                float x0 = x[a];
                float x1 = x[b];
                x[a] = x0 * cos - x1 * sin;
                x[b] = x1 * cos + x0 * sin;
            }
        }
    }

    @Override
    public void attention(float[] q, int qOffset, int heads, float[] keys, float[] values, int kvStride,
                          int kvOffset, int headDim, int from, int to, int[] blocks, int blockShift, float scale,
                          float[] out, int outOffset, float[] scratch) {
        for (int h = 0; h < heads; h++) {
            attentionHead(q, qOffset + h * headDim, keys, values, kvStride, kvOffset, headDim, from, to, blocks,
                    blockShift, scale, out, outOffset + h * headDim, scratch);
        }
    }

    private static void attentionHead(float[] q, int qOffset, float[] keys, float[] values, int kvStride, int kvOffset,
                                      int headDim, int from, int to, int[] blocks, int blockShift, float scale,
                                      float[] out, int outOffset, float[] scratch) {
        int n = to - from + 1;
        for (int t = 0; t < n; t++) {
            int k = Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset;
            float dot = 0f;
            for (int i = 0; i < headDim; i++) {
                dot += q[qOffset + i] * keys[k + i];
            }
            scratch[t] = scale * dot;
        }
        softmax(scratch, 0, n);
        for (int i = 0; i < headDim; i++) {
            out[outOffset + i] = 0f;
        }
        for (int t = 0; t < n; t++) {
            int v = Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset;
            float p = scratch[t];
            for (int i = 0; i < headDim; i++) {
                out[outOffset + i] += p * values[v + i];
            }
        }
    }

    /** torch.softmax in float32 over {@code v[o..o+n)}: subtract the max, exponentiate, divide by the sum. */
    static void softmax(float[] v, int o, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int t = o; t < o + n; t++) {
            max = Math.max(max, v[t]);
        }
        float sum = 0f;
        for (int t = o; t < o + n; t++) {
            v[t] = (float) Math.exp(v[t] - max);
            sum += v[t];
        }
        for (int t = o; t < o + n; t++) {
            v[t] /= sum;
        }
    }

    @Override
    public void geluTanhMul(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            gate[i] = geluTanh(gate[i]) * up[i];
        }
    }

    /** torch.nn.functional.gelu(x, approximate="tanh"). */
    static float geluTanh(float x) {
        float inner = SQRT_2_OVER_PI * (x + GELU_COEF * x * x * x);
        return 0.5f * x * (1f + (float) Math.tanh(inner));
    }

    @Override
    public void siluMul(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            gate[i] = silu(gate[i]) * up[i];
        }
    }

    static float silu(float x) {
        return x / (1f + (float) Math.exp(-x));
    }

    @Override
    public void add(float[] a, float[] b, int n) {
        for (int i = 0; i < n; i++) {
            a[i] += b[i];
        }
    }

    @Override
    public void scale(float[] x, int n, float s) {
        for (int i = 0; i < n; i++) {
            x[i] *= s;
        }
    }

    @Override
    public void forEach(int count, IntConsumer task) {
        for (int i = 0; i < count; i++) {
            task.accept(i);
        }
    }
}
