package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * {@link VectorKernels#matmul} on one weight matrix of Gemma 3 1B's FFN shape (6912 x 1152 by
 * default), batch 1 (decode: matrix x vector) or a prefill chunk (matrix x matrix). Decode cycles
 * through enough copies of the matrix (at least 96 MB) that the weights come from DRAM, not from
 * the 32 MB L3, as in a real decode step. {@link KernelBenchMain} turns the times into GB/s and
 * GFLOP/s.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MatmulBench {

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final long DRAM_BYTES = 96L << 20;

    /** Q4_K and Q6_K need cols a multiple of 256 (Llama 3.2 1B: -p cols=2048 -p rows=8192). */
    @Param({"Q8_0", "Q4_0", "BF16", "F16"})
    public String type;
    @Param({"2"})
    public int threads;
    @Param({"1"})
    public int batch;
    @Param({"6912"})
    public int rows;
    @Param({"1152"})
    public int cols;

    private Arena arena;
    private VectorKernels kernels;
    private WeightMatrix[] matrices;
    private float[] x;
    private float[] out;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        GgmlType t = GgmlType.valueOf(type);
        arena = Arena.ofShared();
        kernels = new VectorKernels(threads);
        long bytes = rows * t.bytesFor(cols);
        int copies = batch == 1 ? (int) Math.max(1, (DRAM_BYTES + bytes - 1) / bytes) : 1;
        matrices = new WeightMatrix[copies];
        Random rnd = new Random(42);
        for (int i = 0; i < copies; i++) {
            MemorySegment seg = arena.allocate(bytes, 64);
            fill(t, seg, rnd);
            matrices[i] = new WeightMatrix("w" + i, t, rows, cols, seg);
        }
        x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextFloat() * 2 - 1;
        }
        out = new float[batch * rows];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        kernels.close();
        arena.close();
    }

    @Benchmark
    public float matmul() {
        WeightMatrix w = matrices[next];
        next = next + 1 == matrices.length ? 0 : next + 1;
        kernels.matmul(w, x, out, batch);
        return out[0];
    }

    /** Random quant bits with sane block scales (as the engine's tests do), so sums stay finite. */
    static void fill(GgmlType t, MemorySegment seg, Random rnd) {
        byte[] chunk = new byte[1 << 20];
        for (long pos = 0; pos < seg.byteSize(); pos += chunk.length) {
            rnd.nextBytes(chunk);
            int n = (int) Math.min(chunk.length, seg.byteSize() - pos);
            MemorySegment.copy(chunk, 0, seg, ValueLayout.JAVA_BYTE, pos, n);
        }
        long blocks = seg.byteSize() / t.blockBytes;
        for (long i = 0; i < blocks; i++) {
            long b = i * t.blockBytes;
            switch (t) {
                case F32 -> seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, b, rnd.nextFloat() - 0.5f);
                case F16 -> seg.set(SHORT_LE, b, Float.floatToFloat16(rnd.nextFloat() - 0.5f));
                case BF16 -> seg.set(SHORT_LE, b, (short) (Float.floatToRawIntBits(rnd.nextFloat() - 0.5f) >>> 16));
                case Q8_0, Q4_0 -> seg.set(SHORT_LE, b, Float.floatToFloat16(0.01f));
                case Q4_K -> {
                    seg.set(SHORT_LE, b, Float.floatToFloat16(0.001f));
                    seg.set(SHORT_LE, b + 2, Float.floatToFloat16(0.001f));
                }
                case Q6_K -> seg.set(SHORT_LE, b + 208, Float.floatToFloat16(0.001f));
            }
        }
    }
}
