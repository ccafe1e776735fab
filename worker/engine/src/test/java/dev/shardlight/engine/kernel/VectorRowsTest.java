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
}
