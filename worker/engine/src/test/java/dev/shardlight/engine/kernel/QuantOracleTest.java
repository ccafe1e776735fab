package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Holds both kernels' dequantization to gguf-py's gguf.quants.dequantize (the numpy port of ggml's
 * dequantize_row_*), bit for bit, on rows written by src/test/python/make_quant_oracle.py: random
 * blocks with realistic f16 scales, and for F16/BF16 also zeros, subnormals, infinities and NaN.
 */
class QuantOracleTest {

    private static final int ROWS = 4;
    private static final int COLS = 512;

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void scalarDequantizationEqualsGgufPyBitwise(GgmlType type) throws IOException {
        assertMatchesOracle(new ScalarKernels(), type);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void vectorDequantizationEqualsGgufPyBitwise(GgmlType type) throws IOException {
        try (VectorKernels kernels = new VectorKernels(1)) {
            assertMatchesOracle(kernels, type);
        }
    }

    private static void assertMatchesOracle(Kernels kernels, GgmlType type) throws IOException {
        String name = type.name().toLowerCase(Locale.ROOT);
        byte[] blocks = resource(name + ".blocks");
        ByteBuffer expected = ByteBuffer.wrap(resource(name + ".f32")).order(ByteOrder.LITTLE_ENDIAN);
        // native memory, as a mapped file is: VectorKernels reads heap segments with scalar loads
        Arena arena = Arena.ofConfined();
        MemorySegment data = arena.allocate(blocks.length);
        MemorySegment.copy(MemorySegment.ofArray(blocks), 0, data, 0, blocks.length);
        WeightMatrix w = new WeightMatrix(name, type, ROWS, COLS, data);
        float[] row = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            kernels.dequantizeRow(w, r, row, 0);
            for (int c = 0; c < COLS; c++) {
                int want = expected.getInt((r * COLS + c) * 4);
                int got = Float.floatToRawIntBits(row[c]);
                int rr = r;
                int cc = c;
                assertEquals(want, got, () -> kernels.name() + " " + type + " row " + rr + " col " + cc + ": expected "
                        + Float.intBitsToFloat(want) + " got " + Float.intBitsToFloat(got));
            }
        }
        arena.close();
    }

    private static byte[] resource(String file) throws IOException {
        try (InputStream in = QuantOracleTest.class.getResourceAsStream("/kernels/" + file)) {
            assertNotNull(in, "missing test resource kernels/" + file + " (run make_quant_oracle.py)");
            return in.readAllBytes();
        }
    }
}
