package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Encodes float32 rows into the storage types of {@link GgmlType}, and decodes them back.
 *
 * <p>Q8_0 and Q4_0 follow ggml's {@code quantize_row_q8_0_ref} / {@code quantize_row_q4_0_ref}
 * (ggml/src/ggml-quants.c, "reference implementation for deterministic creation of model files")
 * bit for bit, so a file quantized here equals one quantized by llama.cpp from the same floats.
 * F16 is IEEE round-to-nearest-even ({@link Float#floatToFloat16}, as ggml's FP32_TO_FP16);
 * BF16 is ggml's {@code ggml_compute_fp32_to_bf16} (round-to-nearest-even, NaN kept quiet),
 * which equals torch's {@code .to(bfloat16)} on every non-NaN value.
 *
 * <p>Q4_K and Q6_K use a simpler scale search than ggml's {@code make_qkx2_quants} /
 * {@code make_qx_quants} (one pass, no refinement), but the same block layout, scale packing and
 * final rounding, so the blocks are valid and decode to values close to the input.
 */
public final class Quantizer {

    private static final ValueLayout.OfShort F16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int QK_K = 256;

    private Quantizer() {
    }

    /**
     * Encodes {@code n} floats of {@code src} from {@code srcOff} into {@code dst} at byte
     * {@code dstOff}, as {@code type}; n must be a multiple of the type's block size.
     */
    public static void encode(GgmlType type, float[] src, int srcOff, int n, MemorySegment dst, long dstOff) {
        int bytes = Math.toIntExact(type.bytesFor(n));
        switch (type) {
            case F32 -> MemorySegment.copy(src, srcOff, dst, F32_LE, dstOff, n);
            case F16 -> {
                short[] h = new short[n];
                for (int i = 0; i < n; i++) {
                    h[i] = Float.floatToFloat16(src[srcOff + i]);
                }
                MemorySegment.copy(h, 0, dst, F16_LE, dstOff, n);
            }
            case BF16 -> {
                short[] h = new short[n];
                int nan = 0;
                for (int i = 0; i < n; i++) {
                    // Branch-free so the loop vectorizes; a NaN (sign bit of nan set) redoes the row.
                    int bits = Float.floatToRawIntBits(src[srcOff + i]);
                    nan |= 0x7f800000 - (bits & 0x7fffffff);
                    h[i] = (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
                }
                if (nan < 0) {
                    for (int i = 0; i < n; i++) {
                        h[i] = bf16(src[srcOff + i]);
                    }
                }
                MemorySegment.copy(h, 0, dst, F16_LE, dstOff, n);
            }
            default -> {
                // Blocks are built in a heap array and copied once: per-byte stores into the
                // (usually direct) destination would cost a bounds check each.
                byte[] out = new byte[bytes];
                int blocks = n / type.blockSize;
                switch (type) {
                    case Q8_0 -> {
                        for (int b = 0; b < blocks; b++) {
                            quantizeQ8_0Block(src, srcOff + 32 * b, out, 34 * b);
                        }
                    }
                    case Q4_0 -> {
                        for (int b = 0; b < blocks; b++) {
                            quantizeQ4_0Block(src, srcOff + 32 * b, out, 18 * b);
                        }
                    }
                    case Q4_K -> {
                        for (int b = 0; b < blocks; b++) {
                            quantizeQ4_KBlock(src, srcOff + QK_K * b, out, 144 * b);
                        }
                    }
                    case Q6_K -> {
                        for (int b = 0; b < blocks; b++) {
                            quantizeQ6_KBlock(src, srcOff + QK_K * b, out, 210 * b);
                        }
                    }
                    default -> throw new IllegalArgumentException("no encoder for " + type);
                }
                MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, dstOff, bytes);
            }
        }
    }

    /**
     * Decodes {@code n} values of {@code type} stored at byte {@code srcOff} of {@code src}: the
     * kernels' scalar reference dequantization (bitwise equal to gguf-py's), shared so the writer
     * and the engine can never disagree about a format.
     */
    public static void decode(GgmlType type, MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        type.bytesFor(n);
        dev.shardlight.engine.kernel.ScalarKernels.dequantize(type, src, srcOff, n, dst, dstOff);
    }

    /** ggml_compute_fp32_to_bf16: round to nearest even; NaN keeps its sign and top payload, made quiet. */
    public static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 64);
        }
        return (short) ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16);
    }

    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /**
     * C's roundf: halves away from zero (Java's Math.round rounds them up). {@code a - (int) a} is
     * exact in float for |x| < 2^23, so there is no double rounding at x.5 - ulp.
     */
    static int roundHalfAway(float x) {
        float a = Math.abs(x);
        int q = (int) a;
        if (a - q >= 0.5f) {
            q++;
        }
        return x < 0 ? -q : q;
    }

    /** ggml's nearest_int (the 12582912 trick): round half to even. */
    private static int nearestInt(float x) {
        return (int) Math.rint(x);
    }

    private static void putF16(byte[] out, int at, short h) {
        out[at] = (byte) h;
        out[at + 1] = (byte) (h >> 8);
    }

    private static void quantizeQ8_0Block(float[] x, int off, byte[] dst, int at) {
        float amax = 0f;
        for (int j = 0; j < 32; j++) {
            float a = Math.abs(x[off + j]);
            amax = amax > a ? amax : a; // ggml's MAX(amax, fabsf(v))
        }
        float d = amax / ((1 << 7) - 1);
        float id = d != 0f ? 1.0f / d : 0.0f;
        putF16(dst, at, Float.floatToFloat16(d));
        for (int j = 0; j < 32; j++) {
            dst[at + 2 + j] = (byte) roundHalfAway(x[off + j] * id);
        }
    }

    private static void quantizeQ4_0Block(float[] x, int off, byte[] dst, int at) {
        // The signed element of largest magnitude maps to -8 exactly; ties keep the first one.
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < 32; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0f ? 1.0f / d : 0.0f;
        putF16(dst, at, Float.floatToFloat16(d));
        for (int j = 0; j < 16; j++) {
            // (int8_t)(x*id + 8.5f): the sum is rounded to float first, then truncated.
            int xi0 = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int xi1 = Math.min(15, (int) (x[off + 16 + j] * id + 8.5f));
            dst[at + 2 + j] = (byte) (xi0 | (xi1 << 4));
        }
    }

    /** Layout: f16 d; f16 dmin; u8 scales[12] (6-bit scale and min per 32 elements); u8 qs[128]. */
    private static void quantizeQ4_KBlock(float[] x, int off, byte[] dst, int at) {
        float[] scales = new float[8];
        float[] mins = new float[8];
        float maxScale = 0f;
        float maxMin = 0f;
        for (int j = 0; j < 8; j++) {
            float lo = 0f;
            float hi = -Float.MAX_VALUE;
            for (int i = 0; i < 32; i++) {
                float v = x[off + 32 * j + i];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            // x ≈ scale * q - min with q in 0..15 and min >= 0, as make_qkx2_quants returns.
            scales[j] = Math.max(0f, (hi - lo) / 15f);
            mins[j] = -lo;
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        byte[] packed = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]));
            int lm = Math.min(63, nearestInt(invMin * mins[j]));
            if (j < 4) {
                packed[j] = (byte) ls;
                packed[j + 4] = (byte) lm;
            } else {
                packed[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte) ((ls >> 4) << 6);
                packed[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short dBits = Float.floatToFloat16(maxScale / 63.f);
        short dminBits = Float.floatToFloat16(maxMin / 63.f);
        float d = Float.float16ToFloat(dBits);
        float dmin = Float.float16ToFloat(dminBits);
        int[] levels = new int[QK_K];
        for (int j = 0; j < 8; j++) {
            float dd = d * scaleK4(packed, j);
            if (dd == 0f) {
                continue;
            }
            float dm = dmin * minK4(packed, j);
            for (int i = 0; i < 32; i++) {
                levels[32 * j + i] = Math.max(0, Math.min(15, nearestInt((x[off + 32 * j + i] + dm) / dd)));
            }
        }
        putF16(dst, at, dBits);
        putF16(dst, at + 2, dminBits);
        System.arraycopy(packed, 0, dst, at + 4, 12);
        for (int j = 0; j < QK_K; j += 64) {
            for (int l = 0; l < 32; l++) {
                dst[at + 16 + j / 2 + l] = (byte) (levels[j + l] | (levels[j + l + 32] << 4));
            }
        }
    }

    /** get_scale_min_k4's scale half. */
    private static int scaleK4(byte[] s, int j) {
        return j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | (((s[j - 4] & 0xFF) >> 6) << 4);
    }

    /** get_scale_min_k4's min half. */
    private static int minK4(byte[] s, int j) {
        return j < 4 ? s[j + 4] & 63 : ((s[j + 4] & 0xFF) >> 4) | (((s[j] & 0xFF) >> 6) << 4);
    }


    /** Layout: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d (last). */
    private static void quantizeQ6_KBlock(float[] x, int off, byte[] dst, int at) {
        float[] scales = new float[16];
        float maxAbsScale = 0f;
        float maxScale = 0f;
        for (int ib = 0; ib < 16; ib++) {
            float amax = 0f;
            float max = 0f;
            for (int i = 0; i < 16; i++) {
                float v = x[off + 16 * ib + i];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            scales[ib] = max / -32f;
            if (Math.abs(scales[ib]) > maxAbsScale) {
                maxAbsScale = Math.abs(scales[ib]);
                maxScale = scales[ib];
            }
        }
        java.util.Arrays.fill(dst, at, at + 210, (byte) 0);
        if (maxAbsScale < 1e-15f) {
            return;
        }
        float iscale = -128.f / maxScale;
        short dBits = Float.floatToFloat16(1 / iscale);
        float d = Float.float16ToFloat(dBits);
        byte[] sc = new byte[16];
        int[] levels = new int[QK_K];
        for (int ib = 0; ib < 16; ib++) {
            sc[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
            float dd = d * sc[ib];
            for (int i = 0; i < 16; i++) {
                int l = dd == 0f ? 0 : Math.max(-32, Math.min(31, nearestInt(x[off + 16 * ib + i] / dd)));
                levels[16 * ib + i] = l + 32;
            }
        }
        for (int j = 0; j < QK_K; j += 128) {
            int ql = at + j / 2;
            int qh = at + 128 + j / 4;
            for (int l = 0; l < 32; l++) {
                int q1 = levels[j + l];
                int q2 = levels[j + l + 32];
                int q3 = levels[j + l + 64];
                int q4 = levels[j + l + 96];
                dst[ql + l] = (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4));
                dst[ql + l + 32] = (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4));
                dst[qh + l] = (byte) ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
        System.arraycopy(sc, 0, dst, at + 192, 16);
        putF16(dst, at + 208, dBits);
    }

}
