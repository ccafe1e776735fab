package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ScalarKernelsTest {

    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final ScalarKernels k = new ScalarKernels();

    private static WeightMatrix oneRow(GgmlType type, int cols, byte[] bytes) {
        return new WeightMatrix("t", type, 1, cols, MemorySegment.ofArray(bytes));
    }

    private static byte[] block(GgmlType type) {
        return new byte[type.blockBytes * (type.blockSize == 1 ? 4 : 1)];
    }

    private float[] dequantize(WeightMatrix w) {
        float[] out = new float[w.cols()];
        k.dequantizeRow(w, 0, out, 0);
        return out;
    }

    @Test
    void q80MultipliesSignedBytesByTheF16Scale() {
        byte[] b = block(GgmlType.Q8_0);
        MemorySegment.ofArray(b).set(SHORT_LE, 0, Float.floatToFloat16(0.5f));
        for (int j = 0; j < 32; j++) {
            b[2 + j] = (byte) (j * 8 - 128);
        }
        float[] y = dequantize(oneRow(GgmlType.Q8_0, 32, b));
        for (int j = 0; j < 32; j++) {
            assertEquals((j * 8 - 128) * 0.5f, y[j]);
        }
    }

    @Test
    void q40LowNibblesAreTheFirstSixteenElements() {
        byte[] b = block(GgmlType.Q4_0);
        MemorySegment.ofArray(b).set(SHORT_LE, 0, Float.floatToFloat16(2f));
        b[2] = 0x1F;
        b[3] = (byte) 0x80;
        float[] y = dequantize(oneRow(GgmlType.Q4_0, 32, b));
        assertEquals(14f, y[0]);
        assertEquals(-14f, y[16]);
        assertEquals(-16f, y[1]);
        assertEquals(0f, y[17]);
        assertEquals(-16f, y[2]); // zero bytes sit at -8 * d
    }

    @Test
    void q4kScalesUseTheSixBitPackingOfGetScaleMinK4() {
        byte[] b = block(GgmlType.Q4_K);
        MemorySegment seg = MemorySegment.ofArray(b);
        seg.set(SHORT_LE, 0, Float.floatToFloat16(1f));
        seg.set(SHORT_LE, 2, Float.floatToFloat16(1f));
        b[4] = (byte) 0b11_000011;     // scale 0 = 3; top bits are bits 4-5 of scale 4
        b[4 + 4] = (byte) 0b10_000101; // min 0 = 5; top bits are bits 4-5 of min 4
        b[4 + 8] = 0x72;               // low nibble: scale 4 bits 0-3, high nibble: min 4 bits 0-3
        for (int i = 0; i < 128; i++) {
            b[16 + i] = 0x21;          // low nibble 1 (even sub-blocks), high nibble 2 (odd)
        }
        float[] y = dequantize(oneRow(GgmlType.Q4_K, 256, b));
        assertEquals(3f * 1 - 5f, y[0]);                   // sub-block 0
        assertEquals(0f, y[32]);                           // sub-block 1: scale 0, min 0
        assertEquals((2 | 3 << 4) * 1f - (7 | 2 << 4), y[128]); // sub-block 4: 50 * 1 - 39
        assertEquals(11f, y[159]);
        assertEquals(0f, y[160]);                          // sub-block 5
    }

    @Test
    void q6kCombinesFourLowAndTwoHighBitsPerSixteenElementScale() {
        byte[] b = block(GgmlType.Q6_K);
        MemorySegment seg = MemorySegment.ofArray(b);
        for (int i = 0; i < 128; i++) {
            b[i] = 0x21;
        }
        for (int i = 0; i < 64; i++) {
            b[128 + i] = (byte) 0b11_10_01_00;
        }
        for (int i = 0; i < 16; i++) {
            b[192 + i] = (byte) (i + 1);
        }
        seg.set(SHORT_LE, 208, Float.floatToFloat16(0.5f));
        float[] y = dequantize(oneRow(GgmlType.Q6_K, 256, b));
        assertEquals(0.5f * 1 * -31, y[0]);    // ql low nibble, qh bits 0-1, scale 0
        assertEquals(0.5f * 2 * -31, y[16]);   // scale 1
        assertEquals(0.5f * 3 * -15, y[32]);   // ql[l+32] low nibble, qh bits 2-3, scale 2
        assertEquals(0.5f * 5 * 2, y[64]);     // ql high nibble, qh bits 4-5, scale 4
        assertEquals(0.5f * 7 * 18, y[96]);    // ql[l+32] high nibble, qh bits 6-7, scale 6
        assertEquals(0.5f * 9 * -31, y[128]);  // second half uses scales 8..15
        assertEquals(0.5f * 16 * 18, y[255]);
    }

    @Test
    void bf16IsTheUpperHalfOfAFloat32AndF16IsIeeeHalf() {
        byte[] b = new byte[8];
        MemorySegment seg = MemorySegment.ofArray(b);
        seg.set(SHORT_LE, 0, (short) 0x3FC0);
        seg.set(SHORT_LE, 2, (short) 0xC120);
        seg.set(SHORT_LE, 4, (short) 0x7F80);
        seg.set(SHORT_LE, 6, (short) 0x0001);
        assertArrayEquals(new float[] {1.5f, -10f, Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x10000)},
                dequantize(oneRow(GgmlType.BF16, 4, b)));
        seg.set(SHORT_LE, 0, (short) 0x3E00);
        seg.set(SHORT_LE, 2, (short) 0xC000);
        seg.set(SHORT_LE, 4, (short) 0x0001);
        seg.set(SHORT_LE, 6, (short) 0x7BFF);
        assertArrayEquals(new float[] {1.5f, -2f, 0x1p-24f, 65504f}, dequantize(oneRow(GgmlType.F16, 4, b)));
    }

    @Test
    void matmulComputesEveryBatchRowAgainstEveryWeightRow() {
        byte[] b = new byte[2 * 3 * 4];
        MemorySegment seg = MemorySegment.ofArray(b);
        float[] w = {1, 2, 3, 4, 5, 6};
        for (int i = 0; i < 6; i++) {
            seg.set(FLOAT_LE, 4L * i, w[i]);
        }
        WeightMatrix m = new WeightMatrix("w", GgmlType.F32, 2, 3, seg);
        float[] x = {1, 0, -1, 2, 1, 0};
        float[] out = new float[4];
        k.matmul(m, x, out, 2);
        assertArrayEquals(new float[] {-2, -2, 4, 13}, out);
    }

    @Test
    void rmsnormScalesByInverseRootMeanSquareTimesOffsetWeight() {
        float[] x = {1, 2, 3, 4, 2, 2, 2, 2};
        float[] out = new float[8];
        float inv = (float) (1 / Math.sqrt(7.5f + 1e-6f));
        k.rmsnorm(out, 0, x, 0, 4, 2, new float[] {0, 1, -1, 0.5f}, 1f, 1e-6f);
        assertEquals(1 * inv, out[0]);
        assertEquals(2 * inv * 2, out[1]);
        assertEquals(0f, out[2]);
        assertEquals(4 * inv * 1.5f, out[3]);
        assertEquals(2 * (float) (1 / Math.sqrt(4f + 1e-6f)) * 2f, out[5]);
        // Llama / GGUF pass the weight as is.
        k.rmsnorm(x, 0, x, 0, 4, 1, new float[] {1, 2, 0, 1.5f}, 0f, 1e-6f);
        assertArrayEquals(new float[] {out[0], out[1], 0f, out[3]}, java.util.Arrays.copyOf(x, 4));
    }

    @Test
    void interleavedRopeRotatesAdjacentPairs() {
        float[] x = {1, 0, 5, 6, 0, 1, 5, 6};
        k.rope(x, 0, 2, 4, 3, new float[] {0.5f, 0f}, false);
        float c = (float) Math.cos(1.5f);
        float s = (float) Math.sin(1.5f);
        assertArrayEquals(new float[] {c, s, 5, 6, -s, c, 5, 6}, x);
    }

    @Test
    void neoxRopePairsElementIWithIPlusHalfHeadDim() {
        float[] x = {9, 1, 5, 0, 6, 9};
        k.rope(x, 1, 1, 4, 3, new float[] {0.5f, 0f}, true);
        float c = (float) Math.cos(1.5f);
        float s = (float) Math.sin(1.5f);
        assertArrayEquals(new float[] {9, c, 5, s, 6, 9}, x);
    }

    @Test
    void ropeAngleIsTheFloat32ProductOfPositionAndInverseFrequency() {
        float invFreq = 0.1f;
        int pos = 12345;
        float[] x = {1, 0};
        k.rope(x, 0, 1, 2, pos, new float[] {invFreq}, true);
        float angle = pos * invFreq; // rounded to float32 before cos, as transformers does
        assertEquals((float) Math.cos(angle), x[0]);
        assertEquals((float) Math.sin(angle), x[1]);
    }

    @Test
    void attentionReadsPositionsFromRingBufferSlotsModuloCapacity() {
        int headDim = 2;
        int stride = 4; // two heads per slot; this head sits at offset 2
        float[] keys = new float[4 * stride];
        float[] values = new float[4 * stride];
        for (int slot = 0; slot < 4; slot++) {
            keys[slot * stride + 2] = slot;
            values[slot * stride + 2] = 10 * slot;
            values[slot * stride + 3] = 1;
        }
        float[] q = {1, 0};
        float[] out = new float[2];
        // blocks of one position: positions 3..5 live in slots 3, 0, 1 (slot 2 holds position 2, outside the window)
        k.attention(q, 0, 1, keys, values, stride, 2, headDim, 3, 5, new int[] {-1, -1, 2, 3, 0, 1}, 0, 1f, out, 0,
                new float[3]);
        double e3 = Math.exp(3);
        double e0 = Math.exp(0);
        double e1 = Math.exp(1);
        double expected = (30 * e3 + 0 * e0 + 10 * e1) / (e3 + e0 + e1);
        assertEquals(expected, out[0], 1e-5);
        assertEquals(1f, out[1], 1e-6f);
    }

    @Test
    void activationsMatchTorchTanhGeluAndSilu() {
        float[] gate = {1f, -1f, 3f, 0f};
        k.geluTanhMul(gate, new float[] {1, 1, 2, 5}, 4);
        // torch.nn.functional.gelu(torch.tensor([1., -1., 3.]), approximate="tanh")
        assertArrayEquals(new float[] {0.8411920f, -0.1588080f, 2 * 2.9963627f, 0f}, gate, 1e-6f);
        float[] g2 = {1f, -2f};
        k.siluMul(g2, new float[] {1, 3}, 2);
        assertArrayEquals(new float[] {0.7310586f, 3 * -0.2384058f}, g2, 1e-6f);
    }

    @Test
    void addAndScaleTouchOnlyTheFirstNElements() {
        float[] a = {1, 2, 3};
        k.add(a, new float[] {1, 1, 1}, 2);
        k.scale(a, 2, 0.5f);
        assertArrayEquals(new float[] {1, 1.5f, 3}, a);
    }
}
