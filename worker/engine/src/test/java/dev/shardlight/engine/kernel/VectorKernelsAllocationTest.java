package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Once compiled, matmul allocates nothing on the calling thread. A Vector API value that crosses
 * a call C2 does not inline is boxed on the heap; that made the Q8_0 / Q4_0 row loops 4x slower
 * (and grew the heap by gigabytes during a benchmark) without changing a single result, so only
 * this test sees it. Runs single-threaded so all the work is on the measured thread, and repeats
 * until C2 has compiled the loops (bounded by time).
 */
class VectorKernelsAllocationTest {

    private static final Arena ARENA = Arena.ofShared();
    private static final VectorKernels KERNELS = new VectorKernels(1);

    @AfterAll
    static void close() {
        KERNELS.close();
        ARENA.close();
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (GgmlType type : GgmlType.values()) {
            out.add(Arguments.of(type, 1));
            out.add(Arguments.of(type, 7));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} batch {1}")
    @MethodSource("cases")
    void compiledMatmulAllocatesNothing(GgmlType type, int batch) {
        int cols = 512;
        WeightMatrix w = RandomWeights.matrix(ARENA, type, 64, cols, 5);
        float[] x = RandomWeights.activations(batch * cols, 3);
        float[] out = new float[batch * 64];
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        long deadline = System.nanoTime() + 60_000_000_000L;
        long allocated;
        do {
            for (int i = 0; i < 2000; i++) {
                KERNELS.matmul(w, x, out, batch);
            }
            long before = threads.getThreadAllocatedBytes(id);
            for (int i = 0; i < 200; i++) {
                KERNELS.matmul(w, x, out, batch);
            }
            allocated = threads.getThreadAllocatedBytes(id) - before;
        } while (allocated > 0 && System.nanoTime() < deadline);
        assertTrue(allocated == 0, type + " batch " + batch + ": 200 compiled matmuls allocated " + allocated + " bytes");
    }

    /** Attention, its grouped scores and its softmax included, the same way. */
    @ParameterizedTest(name = "{0} heads")
    @ValueSource(ints = {1, 4})
    void compiledAttentionAllocatesNothing(int heads) {
        int headDim = 64;
        int positions = 100;
        int[] blocks = {3, 0, 6, 1, 5, 2, 4};
        float[] keys = RandomWeights.activations(7 * 16 * headDim, 1);
        float[] values = RandomWeights.activations(7 * 16 * headDim, 2);
        float[] q = RandomWeights.activations(heads * headDim, 3);
        float[] out = new float[heads * headDim];
        float[] scratch = new float[heads * positions];
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        long deadline = System.nanoTime() + 60_000_000_000L;
        long allocated;
        do {
            for (int i = 0; i < 2000; i++) {
                KERNELS.attention(q, 0, heads, keys, values, headDim, 0, headDim, 0, positions - 1, blocks, 4, 0.125f,
                        out, 0, scratch);
            }
            long before = threads.getThreadAllocatedBytes(id);
            for (int i = 0; i < 200; i++) {
                KERNELS.attention(q, 0, heads, keys, values, headDim, 0, headDim, 0, positions - 1, blocks, 4, 0.125f,
                        out, 0, scratch);
            }
            allocated = threads.getThreadAllocatedBytes(id) - before;
        } while (allocated > 0 && System.nanoTime() < deadline);
        assertTrue(allocated == 0, heads + " heads: 200 compiled attention calls allocated " + allocated + " bytes");
    }
}
