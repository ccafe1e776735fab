package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantizerTest {

    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static MemorySegment encode(GgmlType type, float[] x) {
        MemorySegment out = MemorySegment.ofArray(new byte[(int) type.bytesFor(x.length)]);
        Quantizer.encode(type, x, 0, x.length, out, 0);
        return out;
    }

    private static float[] decode(GgmlType type, MemorySegment blocks, int n) {
        float[] y = new float[n];
        Quantizer.decode(type, blocks, 0, y, 0, n);
        return y;
    }

    @Test
    void q8_0RoundsHalvesAwayFromZeroLikeRoundf() {
        float[] x = new float[32];
        x[0] = 127f;        // amax 127: d = 1, id = 1
        x[1] = 2.5f;
        x[2] = -2.5f;       // roundf -> -3 (Math.round would give -2)
        x[3] = 0.5f;
        x[4] = -0.5f;
        x[5] = 126.5f;
        x[6] = -127f;
        x[7] = 0.49999997f; // largest float below 0.5 -> 0
        MemorySegment b = encode(GgmlType.Q8_0, x);
        assertEquals((short) 0x3C00, b.get(F16, 0));
        byte[] qs = b.asSlice(2, 32).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(new byte[] {127, 3, -3, 1, -1, 127, -127, 0}, java.util.Arrays.copyOf(qs, 8));
    }

    @Test
    void q8_0OfZerosHasZeroScale() {
        MemorySegment b = encode(GgmlType.Q8_0, new float[32]);
        assertArrayEquals(new byte[34], b.toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void q4_0MapsTheSignedLargestElementToMinusEightAndClampsAtFifteen() {
        float[] x = new float[32];
        x[0] = 8f;     // max by magnitude, positive: d = -1, id = -1
        x[1] = -7f;    // 7 + 8.5 = 15.5 -> 15
        x[2] = -8f;    // 8 + 8.5 = 16.5 -> 16 -> clamped to 15
        x[3] = 0.6f;   // -0.6 + 8.5 = 7.9 -> 7
        x[16] = 8f;    // a tie in magnitude keeps the first: -8 + 8.5 -> 0
        x[17] = 3f;    // -3 + 8.5 = 5.5 -> 5
        MemorySegment b = encode(GgmlType.Q4_0, x);
        assertEquals((short) 0xBC00, b.get(F16, 0), "d = max / -8 = -1");
        byte[] qs = b.asSlice(2, 16).toArray(ValueLayout.JAVA_BYTE);
        assertEquals(0x00, qs[0] & 0xFF, "x[0] -> 0 (low), x[16] -> 0 (high)");
        assertEquals(15 | (5 << 4), qs[1] & 0xFF, "x[1] -> 15, x[17] -> 5");
        assertEquals(15 | (8 << 4), qs[2] & 0xFF, "x[2] clamped to 15, x[18] = 0 -> 8");
        assertEquals(7 | (8 << 4), qs[3] & 0xFF);
        float[] y = decode(GgmlType.Q4_0, b, 32);
        assertEquals(8f, y[0]);
        assertEquals(-7f, y[1]);
        assertEquals(-7f, y[2], "the clamp loses one step");
    }

    @Test
    void q4_0WithNegativeMaximumHasPositiveScale() {
        float[] x = new float[32];
        x[5] = -4f;   // d = -4 / -8 = 0.5, id = 2
        x[6] = 1.2f;  // 2.4 + 8.5 = 10.9 -> 10
        x[7] = 4f;    // |4| is not > |-4|: max stays -4; 8 + 8.5 -> 16 -> 15
        MemorySegment b = encode(GgmlType.Q4_0, x);
        assertEquals(Float.floatToFloat16(0.5f), b.get(F16, 0));
        byte[] qs = b.asSlice(2, 16).toArray(ValueLayout.JAVA_BYTE);
        assertEquals(0, qs[5] & 0xF);
        assertEquals(10, qs[6] & 0xF);
        assertEquals(15, qs[7] & 0xF);
        assertEquals(8, qs[0] & 0xF, "zero -> 8");
    }

    @Test
    void q8_0ErrorIsWithinHalfAStepPerElement() {
        Random random = new Random(1);
        float[] x = new float[32 * 200];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(5) - 3));
        }
        MemorySegment b = encode(GgmlType.Q8_0, x);
        float[] y = decode(GgmlType.Q8_0, b, x.length);
        for (int blk = 0; blk < 200; blk++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[32 * blk + j]));
            }
            float d = amax / 127;
            float d16 = Float.float16ToFloat(b.get(F16, 34L * blk));
            // Half a step, plus what rounding d to f16 moves the largest level by.
            float bound = d / 2 + 127 * Math.abs(d16 - d) + 1e-6f * amax;
            for (int j = 0; j < 32; j++) {
                assertTrue(Math.abs(y[32 * blk + j] - x[32 * blk + j]) <= bound, "block " + blk + " element " + j);
            }
        }
    }

    @Test
    void q4_0ErrorIsWithinOneStepPerElement() {
        Random random = new Random(2);
        float[] x = new float[32 * 200];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        MemorySegment b = encode(GgmlType.Q4_0, x);
        float[] y = decode(GgmlType.Q4_0, b, x.length);
        for (int i = 0; i < x.length; i++) {
            float d = Math.abs(Float.float16ToFloat(b.get(F16, 18L * (i / 32))));
            assertTrue(Math.abs(y[i] - x[i]) <= d * 1.01f, "element " + i);
        }
    }

    @Test
    void kQuantsRoundTripCloseToTheInput() {
        Random random = new Random(3);
        float[] x = new float[256 * 64];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian() * 0.02f;
        }
        assertTrue(relativeRmsError(x, GgmlType.Q6_K) < 0.03, "Q6_K");
        assertTrue(relativeRmsError(x, GgmlType.Q4_K) < 0.12, "Q4_K");
        assertTrue(relativeRmsError(x, GgmlType.Q8_0) < 0.01, "Q8_0");
    }

    private static double relativeRmsError(float[] x, GgmlType type) {
        float[] y = decode(type, encode(type, x), x.length);
        double err = 0;
        double ref = 0;
        for (int i = 0; i < x.length; i++) {
            err += (y[i] - x[i]) * (y[i] - x[i]);
            ref += x[i] * x[i];
        }
        return Math.sqrt(err / ref);
    }

    @Test
    void q4_KDecodesPackedScalesAndMinsAsGgml() {
        MemorySegment b = MemorySegment.ofArray(new byte[144]);
        b.set(F16, 0, Float.floatToFloat16(1.0f));  // d
        b.set(F16, 2, Float.floatToFloat16(0.5f));  // dmin
        byte[] s = new byte[12];
        s[0] = 1;                  // sc0 = 1
        s[4] = 2;                  // m0 = 2
        s[1] = (byte) (3 | 2 << 6); // sc1 = 3; top bits of sc5 = 2
        s[5] = (byte) (4 | 1 << 6); // m1 = 4; top bits of m5 = 1
        s[9] = 0x57;               // sc5 = 7 | 2<<4 = 39, m5 = 5 | 1<<4 = 21
        MemorySegment.copy(s, 0, b, ValueLayout.JAVA_BYTE, 4, 12);
        b.set(ValueLayout.JAVA_BYTE, 16, (byte) 0x0F);           // element 0 (low), element 32 (high)
        b.set(ValueLayout.JAVA_BYTE, 16 + 64 + 3, (byte) 0xA0);  // element 131 (low), element 163 (high)
        float[] y = decode(GgmlType.Q4_K, b, 256);
        assertEquals(1 * 1 * 15 - 0.5f * 2, y[0]);
        assertEquals(-0.5f * 4, y[32]);
        assertEquals(0f, y[131]);
        assertEquals(1 * 39 * 10 - 0.5f * 21, y[163]);
    }

    @Test
    void q6_KDecodesSplitLowAndHighBitsAsGgml() {
        MemorySegment b = MemorySegment.ofArray(new byte[210]);
        b.set(F16, 208, Float.floatToFloat16(0.5f));      // d is last
        b.set(ValueLayout.JAVA_BYTE, 192, (byte) 3);       // scales[0]
        b.set(ValueLayout.JAVA_BYTE, 192 + 2, (byte) -2);  // scales[2]
        b.set(ValueLayout.JAVA_BYTE, 192 + 4, (byte) 1);   // scales[4]
        b.set(ValueLayout.JAVA_BYTE, 192 + 8, (byte) 1);   // scales[8], second half
        b.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x21);      // ql[0]: element 0 low 1, element 64 low 2
        b.set(ValueLayout.JAVA_BYTE, 128, (byte) 0b0110);  // qh[0]: element 0 high 2, element 32 high 1
        b.set(ValueLayout.JAVA_BYTE, 64, (byte) 0x0F);     // ql[64]: element 128 low 15
        b.set(ValueLayout.JAVA_BYTE, 128 + 32, (byte) 3);  // qh[32]: element 128 high 3
        float[] y = decode(GgmlType.Q6_K, b, 256);
        assertEquals(0.5f * 3 * ((1 | 2 << 4) - 32), y[0]);
        assertEquals(0.5f * -2 * ((0 | 1 << 4) - 32), y[32]);
        assertEquals(0.5f * 1 * (2 - 32), y[64]);
        assertEquals(0.5f * 1 * (63 - 32), y[128]);
    }

    @Test
    void f16RoundsToNearestEven() {
        assertEquals((short) 0x3C00, Float.floatToFloat16(1.0f));
        assertEquals((short) 0x2E66, Float.floatToFloat16(0.1f));
        assertEquals((short) 0x7BFF, Float.floatToFloat16(65504f));
        assertEquals((short) 0x7C00, Float.floatToFloat16(65520f), "rounds up to infinity");
        MemorySegment b = encode(GgmlType.F16, new float[] {1.0f, -2.0f});
        assertEquals((short) 0xC000, b.get(F16, 2));
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsNaNsQuiet() {
        assertEquals((short) 0x3F80, Quantizer.bf16(1.0f));
        assertEquals((short) 0x3F80, Quantizer.bf16(Float.intBitsToFloat(0x3F808000)), "tie to even (down)");
        assertEquals((short) 0x3F82, Quantizer.bf16(Float.intBitsToFloat(0x3F818000)), "tie to even (up)");
        assertEquals((short) 0x3F81, Quantizer.bf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0x7F80, Quantizer.bf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0x7F80, Quantizer.bf16(Float.MAX_VALUE), "overflows to infinity as torch does");
        assertEquals((short) 0x7FC0, Quantizer.bf16(Float.NaN));
        assertEquals((short) 0x7FC0, Quantizer.bf16(Float.intBitsToFloat(0x7F800001)), "signalling NaN made quiet");
        assertEquals((short) 0xFFC1, Quantizer.bf16(Float.intBitsToFloat(0xFF812345)), "sign and top payload kept");
        assertEquals((short) 0x0001, Quantizer.bf16(Float.intBitsToFloat(0x00010000)), "subnormals are not flushed");
        assertEquals(-1.5f, Quantizer.bf16ToFloat(Quantizer.bf16(-1.5f)));
    }
}
