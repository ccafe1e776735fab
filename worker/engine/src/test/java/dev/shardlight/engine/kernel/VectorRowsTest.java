package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorRowsTest {

    /** Every half value widens exactly; NaNs stay NaNs of the same sign (whether a signalling NaN comes back quiet is left open). */
    @Test
    void f16WideningIsExactForEveryHalfValue() {
        ByteBuffer bytes = ByteBuffer.allocate(2 * 65536).order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 65536; h++) {
            bytes.putShort((short) h);
        }
        float[] out = new float[65536];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(2 * 65536);
            MemorySegment.copy(MemorySegment.ofArray(bytes.array()), 0, data, 0, 2 * 65536);
            VectorRows.dequantize(GgmlType.F16, data, 0, 65536, out, 0);
        }
        for (int h = 0; h < 65536; h++) {
            float expected = Float.float16ToFloat((short) h);
            if (Float.isNaN(expected)) {
                assertTrue(Float.isNaN(out[h]) && (Float.floatToRawIntBits(out[h]) < 0) == (h >= 0x8000),
                        "half 0x" + Integer.toHexString(h));
            } else {
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[h]), "half 0x" + Integer.toHexString(h));
            }
        }
    }

    /**
     * The permuted F16 dot product (halves mapped to 2^-112 times their value, sum scaled back) over
     * every finite half, normals and subnormals: within float32 rounding of the exact sum. A row with
     * an infinity or a NaN anywhere (low or high half of a 32-bit pair, the 16-element tail) takes
     * the exact path and gives what it gives.
     */
    @Test
    void permutedF16DotCoversEveryFiniteHalfAndFallsBackOnInfinityAndNaN() {
        int n = 63488 + 8; // every half with exponent < 31, then a tail of 8 that is not a whole 16
        short[] halves = new short[n];
        int k = 0;
        for (int h = 0; h < 65536; h++) {
            if ((h & 0x7C00) != 0x7C00) {
                halves[k++] = (short) h;
            }
        }
        for (; k < n; k++) {
            halves[k] = (short) (0x3C00 + k); // 1.0 and up
        }
        Random r = new Random(5);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian() * 1e-3f;
        }
        float[] xp = new float[n];
        VectorRows.prepareHalves(x, 0, n, xp, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment row = arena.allocate(2L * n, 64);
            for (int i = 0; i < n; i++) {
                row.set(ScalarKernels.SHORT_LE, 2L * i, halves[i]);
            }
            double exact = 0;
            double abs = 0;
            for (int i = 0; i < n; i++) {
                double p = (double) Float.float16ToFloat(halves[i]) * x[i];
                exact += p;
                abs += Math.abs(p);
            }
            float got = VectorRows.dotF16p(row, 0, xp, 0, x, 0, n);
            assertEquals(exact, got, 1e-6 * abs, "all finite halves");
            float[] buf = new float[VectorRows.Halves.CHUNK];
            assertEquals(exact, VectorRows.dotF16w(row, 0, x, 0, n, buf), 1e-6 * abs, "all finite halves, 16 lanes");
            for (int at : new int[] {0, 1, 30, 31, 4097, n - 9, n - 1}) {
                for (short special : new short[] {(short) 0x7C00, (short) 0xFC00, (short) 0x7E01}) {
                    short keep = row.get(ScalarKernels.SHORT_LE, 2L * at);
                    row.set(ScalarKernels.SHORT_LE, 2L * at, special);
                    float expected = VectorRows.dotF16(row, 0, x, 0, n);
                    assertEquals(Float.floatToRawIntBits(expected),
                            Float.floatToRawIntBits(VectorRows.dotF16p(row, 0, xp, 0, x, 0, n)),
                            "half 0x" + Integer.toHexString(special & 0xFFFF) + " at " + at);
                    assertTrue(Float.isNaN(expected) || Float.isInfinite(expected), "non-finite in, non-finite out");
                    float wide = VectorRows.dotF16w(row, 0, x, 0, n, buf);
                    assertEquals(Float.isNaN(expected), Float.isNaN(wide), "16 lanes, NaN, half 0x" + Integer.toHexString(special & 0xFFFF) + " at " + at);
                    if (!Float.isNaN(expected)) {
                        assertEquals(expected, wide, "16 lanes, infinity at " + at);
                    }
                    row.set(ScalarKernels.SHORT_LE, 2L * at, keep);
                }
            }
        }
    }

    @Test
    void q4kScaleDecodingFromLoadedWordsMatchesGetScaleMinK4() {
        Random rnd = new Random(3);
        byte[] scales = new byte[12];
        for (int trial = 0; trial < 1000; trial++) {
            rnd.nextBytes(scales);
            MemorySegment seg = MemorySegment.ofArray(scales);
            ByteBuffer buf = ByteBuffer.wrap(scales).order(ByteOrder.LITTLE_ENDIAN);
            long lo = buf.getLong(0);
            int hi = buf.getInt(8);
            for (int j = 0; j < 8; j++) {
                assertEquals(ScalarKernels.scaleMinK4(j, seg, 0), VectorRows.scaleMinK4(j, lo, hi), "sub-block " + j);
            }
        }
    }

    @Test
    void batchedDotProductsEqualSingleDotProducts() {
        int n = 100;
        float[] w = RandomWeights.activations(n, 1);
        float[] x = RandomWeights.activations(4 * n, 2);
        float[] out = new float[4 * 3];
        VectorRows.dot4(w, 0, x, 0, n, out, 1, 3);
        for (int k = 0; k < 4; k++) {
            assertEquals(VectorRows.dot(w, 0, x, k * n, n), out[1 + 3 * k], 1e-5f);
        }
    }

    /**
     * The four-by-four tile (AVX-512's prefill and batched-decode tile) gives every output bit for
     * bit what the four-by-two tile gives, so which tile a batch size takes changes no result.
     */
    @Test
    void fourByFourTileEqualsFourByTwoBitwise() {
        int n = 3 * 16 + (VectorRows.L == 8 ? 8 : 0);
        float[] w = RandomWeights.activations(4 * n, 3);
        float[] x = RandomWeights.activations(4 * n, 4);
        int stride = 6;
        float[] wide = new float[4 * stride];
        float[] pairs = new float[4 * stride];
        VectorRows.dot4x4(w, 0, x, 0, n, wide, 1, stride);
        VectorRows.dot4x2(w, 0, x, 0, n, pairs, 1, stride);
        VectorRows.dot4x2(w, 0, x, 2 * n, n, pairs, 1 + 2 * stride, stride);
        for (int i = 0; i < wide.length; i++) {
            assertEquals(Float.floatToRawIntBits(pairs[i]), Float.floatToRawIntBits(wide[i]), "output " + i);
        }
        for (int k = 0; k < 4; k++) {
            for (int j = 0; j < 4; j++) {
                assertEquals(VectorRows.dot(w, j * n, x, k * n, n), wide[1 + k * stride + j], 1e-5f, "row " + j + " vector " + k);
            }
        }
    }

    /**
     * The 16-lane Q8_0 and Q4_0 row loops (AVX-512's decode path) and the 8-lane permuted ones
     * (AVX2's) against the exact sum of the dequantized row times x, for even and odd block counts
     * (the scalar last block) and a row that starts mid-segment. Both run on any machine: a shape
     * the hardware lacks runs the Vector API's Java code, slowly but with the same arithmetic.
     */
    @Test
    void q8AndQ4RowLoopsOfBothWidthsMatchTheDequantizedSum() {
        for (GgmlType type : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0}) {
            for (int n : new int[] {32, 64, 96, 1152, 1184}) {
                try (Arena arena = Arena.ofConfined()) {
                    int rows = 3;
                    MemorySegment seg = arena.allocate(rows * type.bytesFor(n), 64);
                    RandomWeights.fill(type, seg, new Random(n + type.ordinal()));
                    float[] x = RandomWeights.activations(n, n);
                    float[] xp = new float[n];
                    float[] xs = new float[n / 32];
                    float[] sums = new float[n / 32];
                    VectorRows.blockSums8(x, 0, n, sums, 0);
                    float[] w = new float[n];
                    for (int r = 0; r < rows; r++) {
                        long off = r * type.bytesFor(n);
                        ScalarKernels.dequantize(type, seg, off, n, w, 0);
                        double exact = 0;
                        double abs = 0;
                        for (int i = 0; i < n; i++) {
                            exact += (double) w[i] * x[i];
                            abs += Math.abs((double) w[i] * x[i]);
                        }
                        float wide;
                        float narrow;
                        if (type == GgmlType.Q8_0) {
                            VectorRows.prepareQ80(x, 0, n, xp, 0);
                            wide = VectorRows.dotQ80w(seg, off, x, 0, n);
                            narrow = VectorRows.dotQ80p(seg, off, xp, 0, n);
                        } else {
                            VectorRows.prepareQ40(x, 0, n, xp, 0, xs, 0);
                            wide = VectorRows.dotQ40w(seg, off, x, 0, sums, 0, n);
                            narrow = VectorRows.dotQ40p(seg, off, xp, 0, xs, 0, n);
                        }
                        String at = type + " n=" + n + " row " + r;
                        assertEquals(exact, wide, 2e-6 * abs + 1e-7, "16 lanes, " + at);
                        assertEquals(exact, narrow, 2e-6 * abs + 1e-7, "8 lanes, " + at);
                    }
                }
            }
        }
    }
}
