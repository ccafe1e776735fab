package dev.shardlight.engine.kernel;

import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
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
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

/**
 * The machine's read bandwidth as the kernels see it: a 256 MB native buffer (far beyond L3)
 * summed with 256-bit loads, split into chunks over the same {@link WorkerPool} the kernels use.
 * The ceiling for a decode step, which reads every weight once.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ReadBandwidthBench {

    static final long BYTES = 256L << 20;
    private static final VectorSpecies<Long> S = LongVector.SPECIES_256;
    private static final int CHUNKS = 64;

    @Param({"1", "2"})
    public int threads;

    private Arena arena;
    private MemorySegment buffer;
    private VectorKernels kernels;
    private final long[] sums = new long[CHUNKS];
    private IntConsumer task;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        buffer = arena.allocate(BYTES, 4096);
        buffer.fill((byte) 1);
        kernels = new VectorKernels(threads);
        long per = BYTES / CHUNKS;
        task = c -> sums[c] = sum(buffer, c * per, per);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        kernels.close();
        arena.close();
    }

    @Benchmark
    public long read() {
        kernels.forEach(CHUNKS, task);
        long s = 0;
        for (long v : sums) {
            s += v;
        }
        return s;
    }

    private static long sum(MemorySegment seg, long off, long n) {
        LongVector a0 = LongVector.zero(S);
        LongVector a1 = LongVector.zero(S);
        LongVector a2 = LongVector.zero(S);
        LongVector a3 = LongVector.zero(S);
        for (long i = off; i < off + n; i += 128) {
            a0 = a0.add(LongVector.fromMemorySegment(S, seg, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(S, seg, i + 32, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(S, seg, i + 64, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(S, seg, i + 96, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
    }
}
