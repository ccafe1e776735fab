package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Holds every operation of {@link VectorKernels} to {@link ScalarKernels}, for every weight type,
 * batch size and thread count the pool splits differently.
 *
 * <p>Tolerances. Both implementations accumulate in float32 but in different orders (lanes,
 * blocks, Q4_K's factored d*sc*sum(q*x) - dmin*m*sum(x)). Each order's rounding error is at most
 * about n*u*sum|w*x| (u = 2^-24) and in practice sqrt(n)*u*sum|w*x|, about 1.5e-6 * sum|w*x|
 * for n = 512 (measured on these weights: at most 2e-7, up to n = 2048); so sums are compared
 * within 1e-5 * sum|w*x|. A wrong weight, scale or block
 * moves a sum by about sum|w*x|/n = 2e-3 of it, far outside that bound. Dequantization and rope do
 * the same float operations in the same order and must match bitwise; add and scale are exact.
 * The activations use a vector exp (within an ulp or two of Math.exp/tanh) and so are compared
 * within 1e-6 relative, plus an absolute 1e-6*|x*up| for gelu, whose scalar form 1 + tanh(u)
 * loses relative precision for negative x.
 */
class KernelsDifferentialTest {

    private static final double SUM_TOLERANCE = 1e-5;
    /** Shared, not confined: the pool's worker threads read the weights, as they read a mapped file. */
    private static final Arena ARENA = Arena.ofShared();
    private static final ScalarKernels SCALAR = new ScalarKernels();
    private static final VectorKernels[] VECTOR = {new VectorKernels(1), new VectorKernels(2), new VectorKernels(3)};

    @AfterAll
    static void close() {
        for (VectorKernels v : VECTOR) {
            v.close();
        }
        ARENA.close();
    }

    static Stream<Arguments> matmulCases() {
        List<Arguments> cases = new ArrayList<>();
        for (GgmlType type : GgmlType.values()) {
            for (int batch : new int[] {1, 3, 5, 8}) {
                // rows: a single row; odd rows, not a multiple of 2 or 3 threads; enough rows for many chunks
                cases.add(Arguments.of(type, 1, 512, batch, 2));
                cases.add(Arguments.of(type, 37, 512, batch, 2));
                cases.add(Arguments.of(type, 131, 512, batch, 3));
                if (type.blockSize == 1) {
                    cases.add(Arguments.of(type, 9, 100, batch, 3)); // cols not a multiple of the lanes
                }
                if (type.blockSize == 32) {
                    cases.add(Arguments.of(type, 9, 7 * 32, batch, 2)); // an odd number of blocks per row
                }
            }
            // a prompt longer than one activation block (half an L2 of floats / 2048 cols vectors)
            cases.add(Arguments.of(type, 9, 2048, VectorKernels.BATCH_BLOCK_FLOATS / 2048 + 5, 2));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} [{1} x {2}] batch {3}, {4} threads")
    @MethodSource("matmulCases")
    void matmulMatchesScalarWithinFloat32Reordering(GgmlType type, int rows, int cols, int batch, int threads) {
        WeightMatrix w = RandomWeights.matrix(ARENA, type, rows, cols, 31L * rows + batch);
        float[] x = RandomWeights.activations(batch * cols, batch);
        float[] expected = new float[batch * rows];
        float[] actual = new float[batch * rows];
        SCALAR.matmul(w, x, expected, batch);
        VECTOR[threads - 1].matmul(w, x, actual, batch);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            SCALAR.dequantizeRow(w, r, row, 0);
            for (int b = 0; b < batch; b++) {
                double magnitude = 0;
                for (int c = 0; c < cols; c++) {
                    magnitude += Math.abs(row[c] * x[b * cols + c]);
                }
                int i = b * rows + r;
                assertEquals(expected[i], actual[i], SUM_TOLERANCE * magnitude,
                        () -> type + " row " + i % rows + " batch row " + i / rows);
            }
        }
    }

    /** VectorKernels reads heap segments with scalar loads (see its class comment); results agree all the same. */
    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void heapBackedWeightsMatchScalar(GgmlType type) {
        WeightMatrix mapped = RandomWeights.matrix(ARENA, type, 5, 512, 77);
        byte[] bytes = mapped.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        WeightMatrix heap = new WeightMatrix("heap", type, 5, 512, java.lang.foreign.MemorySegment.ofArray(bytes));
        float[] x = RandomWeights.activations(3 * 512, 4);
        float[] expected = new float[15];
        float[] actual = new float[15];
        SCALAR.matmul(heap, x, expected, 3);
        VECTOR[1].matmul(heap, x, actual, 3);
        assertArrayEquals(expected, actual, 1e-3f); // sums of magnitude ~100 whose float32 reordering moves them ~1e-5
        float[] row = new float[512];
        float[] expectedRow = new float[512];
        VECTOR[1].dequantizeRow(heap, 4, row, 0);
        SCALAR.dequantizeRow(mapped, 4, expectedRow, 0);
        assertArrayEquals(expectedRow, row);
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void dequantizeRowMatchesScalarBitwise(GgmlType type) {
        int cols = 768;
        WeightMatrix w = RandomWeights.matrix(ARENA, type, 3, cols, type.id);
        for (int r = 0; r < 3; r++) {
            float[] expected = new float[cols + 5];
            float[] actual = new float[cols + 5];
            SCALAR.dequantizeRow(w, r, expected, 5);
            VECTOR[0].dequantizeRow(w, r, actual, 5);
            assertArrayEquals(expected, actual, type + " row " + r);
        }
    }

    @ParameterizedTest
    @ValueSource(floats = {0f, 1f})
    void rmsnormMatchesScalar(float weightOffset) {
        int n = 1152 + 3;
        float[] x = RandomWeights.activations(2 * n, 7);
        float[] weight = RandomWeights.activations(n, 8);
        float[] expected = new float[2 * n + 1];
        float[] actual = new float[2 * n + 1];
        SCALAR.rmsnorm(expected, 1, x, 0, n, 2, weight, weightOffset, 1e-6f);
        VECTOR[0].rmsnorm(actual, 1, x, 0, n, 2, weight, weightOffset, 1e-6f);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-6f * Math.abs(expected[i]), "element " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void ropeMatchesScalarBitwise(boolean neox) {
        for (int headDim : new int[] {64, 256, 72}) {
            float[] invFreq = new float[headDim / 2];
            for (int i = 0; i < invFreq.length; i++) {
                invFreq[i] = (float) Math.pow(10000, -2.0 * i / headDim);
            }
            float[] expected = RandomWeights.activations(3 + 4 * headDim, headDim);
            float[] actual = expected.clone();
            SCALAR.rope(expected, 3, 4, headDim, 4097, invFreq, neox);
            VECTOR[0].rope(actual, 3, 4, headDim, 4097, invFreq, neox);
            assertArrayEquals(expected, actual, "headDim " + headDim);
        }
    }

    /**
     * from..to spans several blocks of a paged cache whose physical blocks are out of order; 1..6
     * query heads share the key/value head (groups of four and the heads left over).
     */
    @ParameterizedTest
    @ValueSource(ints = {256, 64, 72, 20})
    void attentionMatchesScalarOverScatteredBlocks(int headDim) {
        int shift = 3; // blocks of 8 positions
        int[] blocks = new int[22];
        for (int b = 0; b < blocks.length; b++) {
            blocks[b] = (b * 7 + 3) % blocks.length; // a permutation: neighbours are far apart
        }
        int slots = blocks.length << shift;
        int kvStride = 3 * headDim;
        int kvOffset = headDim;
        float[] keys = RandomWeights.activations(slots * kvStride, 1);
        float[] values = RandomWeights.activations(slots * kvStride, 2);
        float[] q = RandomWeights.activations(6 * headDim + 2, 3);
        float scale = (float) (1 / Math.sqrt(headDim));
        for (int heads : new int[] {1, 4, 6}) {
            for (int[] span : new int[][] {{130, 170}, {0, 0}, {140, 149}, {101, 150}, {7, 8}, {0, 175}}) {
                int n = span[1] - span[0] + 1;
                float[] expected = new float[heads * headDim + 1];
                float[] actual = new float[heads * headDim + 1];
                SCALAR.attention(q, 2, heads, keys, values, kvStride, kvOffset, headDim, span[0], span[1], blocks,
                        shift, scale, expected, 1, new float[heads * n]);
                VECTOR[0].attention(q, 2, heads, keys, values, kvStride, kvOffset, headDim, span[0], span[1], blocks,
                        shift, scale, actual, 1, new float[heads * n]);
                // outputs are convex combinations of values in [-2, 2); scores differ by reordering only
                assertArrayEquals(expected, actual, 2e-5f, heads + " heads, positions " + span[0] + ".." + span[1]);
            }
        }
    }

    /** The softmax's vector exponential over its whole domain [-86, 0], and below it. */
    @Test
    void softmaxExponentialWithinTwoUlpOfMathExp() {
        int n = 860_000 / VectorRows.L * VectorRows.L;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = 1.5f - i * 1e-4f; // shifted by 1.5 below: x - 1.5 runs from 0 to -86
        }
        float[] e = x.clone();
        float sum = VectorKernels.expShifted(e, 0, n, 1.5f);
        double worst = 0;
        double expectedSum = 0;
        for (int i = 0; i < n; i++) {
            float expected = (float) Math.exp(x[i] - 1.5f);
            expectedSum += expected;
            double ulps = Math.abs(e[i] - expected) / Math.ulp(expected);
            worst = Math.max(worst, ulps);
            assertTrue(ulps <= 2, "exp(" + (x[i] - 1.5f) + ") = " + e[i] + ", Math.exp " + expected);
        }
        assertTrue(worst > 0, "the polynomial is not Math.exp, so some value must differ");
        // the sum is float32 in each lane over 107,500 terms
        assertEquals(expectedSum, sum, 1e-4 * expectedSum);
        float[] far = new float[VectorRows.L];
        Arrays.fill(far, -1000f);
        VectorKernels.expShifted(far, 0, far.length, 0f);
        assertEquals((float) Math.exp(-86), far[0], 2 * Math.ulp((float) Math.exp(-86)));
    }

    /**
     * A head's output is bitwise the same whether it is computed in a group of heads or alone. Both
     * forms run a few thousand times first: the Vector API's interpreted code sums a vector's lanes
     * in another order than C2's compiled code, so a grouped call in one tier and a lone one in the
     * other can differ in the last bit (seen once in a full module run); what batching must keep
     * equal is the compiled kernels' results.
     */
    @ParameterizedTest
    @ValueSource(ints = {256, 64, 72})
    void groupedHeadsEqualHeadsAloneBitwise(int headDim) {
        int[] blocks = {2, 0, 1};
        int kvStride = headDim;
        float[] keys = RandomWeights.activations(3 * 16 * kvStride, 4);
        float[] values = RandomWeights.activations(3 * 16 * kvStride, 5);
        float[] q = RandomWeights.activations(5 * headDim, 6);
        int from = 3;
        int to = 40;
        int n = to - from + 1;
        float[] grouped = new float[5 * headDim];
        float[] alone = new float[headDim];
        for (int i = 0; i < 3000; i++) {
            VECTOR[0].attention(q, 0, 5, keys, values, kvStride, 0, headDim, from, to, blocks, 4, 0.125f, grouped, 0,
                    new float[5 * n]);
            VECTOR[0].attention(q, i % 5 * headDim, 1, keys, values, kvStride, 0, headDim, from, to, blocks, 4, 0.125f,
                    alone, 0, new float[n]);
        }
        VECTOR[0].attention(q, 0, 5, keys, values, kvStride, 0, headDim, from, to, blocks, 4, 0.125f, grouped, 0,
                new float[5 * n]);
        for (int h = 0; h < 5; h++) {
            VECTOR[0].attention(q, h * headDim, 1, keys, values, kvStride, 0, headDim, from, to, blocks, 4, 0.125f,
                    alone, 0, new float[n]);
            assertArrayEquals(alone, Arrays.copyOfRange(grouped, h * headDim, (h + 1) * headDim),
                    "head " + h);
        }
    }

    @Test
    void activationsMatchScalar() {
        int n = 1000 + 5;
        float[] gate = RandomWeights.activations(n, 4);
        for (int i = 0; i < n; i++) {
            gate[i] *= 4; // [-8, 8): both tails of gelu and silu
        }
        float[] up = RandomWeights.activations(n, 5);
        float[] geluExpected = gate.clone();
        float[] geluActual = gate.clone();
        SCALAR.geluTanhMul(geluExpected, up, n);
        VECTOR[0].geluTanhMul(geluActual, up, n);
        float[] siluExpected = gate.clone();
        float[] siluActual = gate.clone();
        SCALAR.siluMul(siluExpected, up, n);
        VECTOR[0].siluMul(siluActual, up, n);
        for (int i = 0; i < n; i++) {
            float e = geluExpected[i];
            assertEquals(e, geluActual[i], 1e-6f * (Math.abs(e) + Math.abs(gate[i] * up[i])), "gelu at " + gate[i]);
            assertEquals(siluExpected[i], siluActual[i], 1e-6f * Math.abs(siluExpected[i]), "silu at " + gate[i]);
        }
    }

    @Test
    void addAndScaleMatchScalarExactly() {
        int n = 37;
        float[] a = RandomWeights.activations(n + 2, 1);
        float[] b = RandomWeights.activations(n + 2, 2);
        float[] expected = a.clone();
        float[] actual = a.clone();
        SCALAR.add(expected, b, n);
        VECTOR[0].add(actual, b, n);
        SCALAR.scale(expected, n, 0.37f);
        VECTOR[0].scale(actual, n, 0.37f);
        assertArrayEquals(expected, actual);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void forEachRunsEveryIndexExactlyOnce(int threads) {
        for (int count : new int[] {0, 1, 2, 7, 1000}) {
            AtomicIntegerArray seen = new AtomicIntegerArray(count);
            VECTOR[threads - 1].forEach(count, seen::incrementAndGet);
            for (int i = 0; i < count; i++) {
                assertEquals(1, seen.get(i), "index " + i + " of " + count);
            }
        }
    }

    @Test
    void aFailingChunkSurfacesInTheCallerAndThePoolStaysUsable() {
        VectorKernels v = VECTOR[2];
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> v.forEach(10, i -> {
                    if (i == 6) {
                        throw new IllegalStateException("chunk 6");
                    }
                }));
        assertEquals("chunk 6", e.getMessage());
        forEachRunsEveryIndexExactlyOnce(3);
    }

    @Test
    void matmulCalledFromForEachTasksRunsInlineAndStaysCorrect() {
        WeightMatrix w = RandomWeights.matrix(ARENA, GgmlType.Q8_0, 300, 256, 9);
        float[] x = RandomWeights.activations(256, 9);
        float[] expected = new float[300];
        VECTOR[0].matmul(w, x, expected, 1);
        float[][] outs = new float[6][300];
        VECTOR[2].forEach(6, i -> VECTOR[2].matmul(w, x, outs[i], 1));
        // Not bitwise: a lane reduction compiled by C2 and the same code still in C1 or the
        // interpreter may add lanes in a different order, and the inline calls warm up separately.
        for (float[] out : outs) {
            for (int r = 0; r < out.length; r++) {
                assertEquals(expected[r], out[r], 1e-5f * Math.max(1f, Math.abs(expected[r])), "row " + r);
            }
        }
    }
}
