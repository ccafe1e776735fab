package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntConsumer;

import static dev.shardlight.engine.kernel.VectorRows.F;
import static dev.shardlight.engine.kernel.VectorRows.L;

/**
 * Kernels on the Vector API (the preferred species: 8 float lanes on AVX2, 16 on AVX-512), with
 * matmul spread over a {@link WorkerPool} by blocks of rows. Weights are read in place from their
 * segments. Every result equals {@link ScalarKernels}' up to float32 summation order and, for the
 * activations, the last-ulp differences of the vector exp.
 *
 * <p>Weights should live in native memory (a mapped file, an arena). Once the Vector API has loaded
 * from a heap segment ({@code MemorySegment.ofArray}), C2 recompiles the shared load paths for both
 * kinds and every vector load from a segment runs about 3.5x slower (measured on JDK 25, AVX2:
 * a Q8_0 matvec went from 0.9 to 3.3 ms). Heap-backed matrices are therefore read with scalar
 * loads here, which keeps them correct and keeps the mapped weights fast.
 */
public final class VectorKernels implements Kernels, AutoCloseable {

    /** Rows dequantized together when batch > 1; each batch tile then reuses them from L1. */
    private static final int ROW_GROUP = 4;
    /** System property: false turns off reading the next Q8_0 row ahead in matrix-vector products. */
    public static final String TOUCH_PROPERTY = "shardlight.kernels.q8-touch-ahead";
    /**
     * Activation floats a chunk multiplies before moving on to its next rows: half of one core's L2
     * ({@link #l2Bytes}), so a block streams from L2 rather than L3 while the dequantized rows stay
     * beside it. A batch wider than this is taken in blocks of equal size ({@link #batchBlock}), at
     * the price of dequantizing the chunk's rows once per block. Capped at 16 MB, so a cache size
     * misreported as huge cannot overflow an int or ask for a block no cache holds.
     */
    static final int BATCH_BLOCK_FLOATS = (int) Math.min(1 << 22, l2Bytes() / 2 / Float.BYTES);
    /** Multiply-adds below which a chunk is not worth handing to another thread. */
    private static final int MIN_CHUNK_WORK = 1 << 15;
    /** Chunks per thread, so a descheduled thread's share is picked up by the others. */
    private static final int CHUNKS_PER_THREAD = 8;

    private final WorkerPool pool;
    private final ThreadLocal<MatmulTask> matmulTasks = ThreadLocal.withInitial(MatmulTask::new);
    /** Per-thread float scratch (dequantized rows, rope cos/sin), grown once and reused. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    public VectorKernels(int threads) {
        if (!VectorRows.supported()) {
            throw new IllegalStateException("VectorKernels needs 8 or 16 float lanes, this machine has " + L);
        }
        this.pool = new WorkerPool(threads);
    }

    @Override
    public String name() {
        return "vector(" + L + " lanes, " + pool.threads() + " threads)";
    }

    public int threads() {
        return pool.threads();
    }

    @Override
    public void close() {
        pool.close();
    }

    /**
     * Activation vectors per block for a batch of {@code batch} vectors of {@code cols}: as few
     * blocks as {@link #BATCH_BLOCK_FLOATS} allows, of equal size rounded up to the 4-vector tile.
     * A 64-token prefill chunk of Gemma 3's 6,912-wide down projection was 8 blocks of 8 with a
     * fixed 256 KB here (2 MB L2): each block dequantized the rows again, from DRAM. Reading the L2
     * size and splitting evenly made Gemma 3 1B Q8_0 prefill (pp512, 2 threads) 99-104 against
     * 88-90 tok/s, alternating runs.
     */
    static int batchBlock(int batch, int cols) {
        int most = largestBlock(cols);
        int blocks = (batch + most - 1) / most;
        int even = (batch + blocks - 1) / blocks;
        return Math.min(most, (even + 3) / 4 * 4);
    }

    /** The most activation vectors of {@code cols} one block holds: a multiple of the 4-vector tile, at least one tile. */
    static int largestBlock(int cols) {
        return Math.max(4, BATCH_BLOCK_FLOATS / cols / 4 * 4);
    }

    /**
     * Bytes of L2 per core, from Linux's sysfs cache description; 512 KB where that cannot be read
     * (which gives the 256 KB blocks this class used before it read the cache size).
     */
    static long l2Bytes() {
        try (var dirs = Files.newDirectoryStream(Path.of("/sys/devices/system/cpu/cpu0/cache"), "index*")) {
            for (Path d : dirs) {
                if (Files.readString(d.resolve("level")).trim().equals("2")
                        && !Files.readString(d.resolve("type")).trim().equals("Instruction")) {
                    return parseCacheSize(Files.readString(d.resolve("size")).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // no sysfs (not Linux, or a restricted container): the default below
        }
        return 512L << 10;
    }

    /** sysfs's cache size: "2048K", "1M" or a plain byte count. */
    static long parseCacheSize(String s) {
        char unit = Character.toUpperCase(s.charAt(s.length() - 1));
        long scale = unit == 'K' ? 1L << 10 : unit == 'M' ? 1L << 20 : unit == 'G' ? 1L << 30 : 1;
        String digits = scale == 1 ? s : s.substring(0, s.length() - 1);
        return Long.parseLong(digits) * scale;
    }

    private static float[] scratch(int which, int n) {
        float[][] s = SCRATCH.get();
        if (s[which].length < n) {
            s[which] = new float[n];
        }
        return s[which];
    }

    // ---- matmul ------------------------------------------------------------------------------------

    @Override
    public void matmul(WeightMatrix w, float[] x, float[] out, int batch) {
        ScalarKernels.checkMatmul(w, x, out, batch);
        if (!w.data().isNative()) {
            heapMatmul(w, x, out, batch);
            return;
        }
        int rows = w.rows();
        long work = (long) w.cols() * batch;
        int byWork = (int) Math.min(rows, (MIN_CHUNK_WORK + work - 1) / work);
        int byThreads = (rows + pool.threads() * CHUNKS_PER_THREAD - 1) / (pool.threads() * CHUNKS_PER_THREAD);
        int rowsPerChunk = Math.max(byWork, byThreads);
        rowsPerChunk = (rowsPerChunk + ROW_GROUP - 1) / ROW_GROUP * ROW_GROUP;
        MatmulTask task = matmulTasks.get();
        task.w = w;
        task.x = x;
        task.out = out;
        task.batch = batch;
        task.rowsPerChunk = rowsPerChunk;
        task.prepare();
        try {
            pool.run((rows + rowsPerChunk - 1) / rowsPerChunk, task);
        } finally {
            task.w = null;
            task.x = null;
            task.out = null;
        }
    }

    /** One reusable matmul job per calling thread: chunk i covers rows [i*rowsPerChunk, +rowsPerChunk). */
    private static final class MatmulTask implements IntConsumer {
        WeightMatrix w;
        float[] x;
        float[] out;
        int batch;
        int rowsPerChunk;
        /** The activation permuted for the Q8_0 / Q4_0 / F16 row loops, and Q4_0's per-block 8 * sum(x). */
        float[] xp = new float[0];
        float[] xs = new float[0];
        /**
         * Keeps the touch loads of {@link #touchNext} from being optimized away; its value means nothing.
         * The row loop sums them in a local and stores once per chunk, with the segment and row size
         * hoisted: storing here per row, and reading them from the matrix per row, made Q8_0 decode
         * 25% slower (7.0-7.6 against 9.5-10.3 tok/s, Gemma 3 1B, alternating runs).
         */
        int touchSink;
        /** {@link #touchNext} on (default) unless {@value #TOUCH_PROPERTY} is false. */
        static final boolean TOUCH_AHEAD = !"false".equals(System.getProperty(TOUCH_PROPERTY, "true").trim());

        /**
         * Reads one byte of every cache line of row r + 1 (when it is in this chunk) before row r is
         * summed. A row loop has so many instructions per cache line that the reorder window holds
         * loads for only about a dozen lines; where the hardware prefetcher does not run ahead of a
         * stream (seen on a 2-core Xeon VM: 4.1 GB/s from one core in the Q8_0 loop, 10 GB/s for a
         * plain read), those are all the misses in flight. The next row's lines, loaded here as
         * independent loads, are fetched while this row computes (Q8_0 decode from DRAM 1.4x faster
         * there: 7.0 -> 11.1-11.8 tok/s for Gemma 3 1B Q8_0 with 2 threads). Only the Q8_0 loop uses
         * it: the Q4_0, F16 and BF16 loops are compute-bound there and measured 3-25% slower with it, as
         * was batched decode (dequantizing four Q8_0 rows at a time, 20% slower at 4 and 8 streams).
         * Machines whose prefetchers keep up may do better without it: {@value #TOUCH_PROPERTY}=false.
         */
        private int touchNext(MemorySegment seg, int r, int r1, long rowBytes) {
            if (r + 1 >= r1 || !TOUCH_AHEAD) {
                return 0;
            }
            long start = w.rowOffset(r + 1);
            int sum = 0;
            for (long o = 0; o < rowBytes; o += 64) {
                sum += seg.get(ValueLayout.JAVA_BYTE, start + o);
            }
            return sum;
        }

        /** Puts a single activation vector in the order the Q8_0 / Q4_0 / F16 row loops read (once per call). */
        void prepare() {
            if (batch != 1) {
                return;
            }
            GgmlType type = w.type();
            if (type != GgmlType.Q8_0 && type != GgmlType.Q4_0 && type != GgmlType.F16) {
                return;
            }
            int cols = w.cols();
            if (xp.length < cols) {
                xp = new float[cols];
                xs = new float[cols / 32];
            }
            switch (type) {
                case Q8_0 -> {
                    if (!VectorRows.WIDE) {
                        VectorRows.prepareQ80(x, 0, cols, xp, 0);
                    }
                }
                case Q4_0 -> {
                    if (VectorRows.WIDE) {
                        VectorRows.blockSums8(x, 0, cols, xs, 0);
                    } else {
                        VectorRows.prepareQ40(x, 0, cols, xp, 0, xs, 0);
                    }
                }
                default -> {
                    if (!VectorRows.Halves.WIDE) {
                        VectorRows.prepareHalves(x, 0, cols, xp, 0);
                    }
                }
            }
        }

        @Override
        public void accept(int chunk) {
            int r0 = chunk * rowsPerChunk;
            int r1 = Math.min(w.rows(), r0 + rowsPerChunk);
            if (batch == 1) {
                MemorySegment seg = w.data();
                int cols = w.cols();
                long rowBytes = w.rowBytes();
                int touched = 0;
                switch (w.type()) {
                    case Q8_0 -> {
                        for (int r = r0; r < r1; r++) {
                            touched += touchNext(seg, r, r1, rowBytes);
                            long off = w.rowOffset(r);
                            out[r] = VectorRows.WIDE ? VectorRows.dotQ80w(seg, off, x, 0, cols) : VectorRows.dotQ80p(seg, off, xp, 0, cols);
                        }
                    }
                    case Q4_0 -> {
                        for (int r = r0; r < r1; r++) {
                            long off = w.rowOffset(r);
                            out[r] = VectorRows.WIDE
                                    ? VectorRows.dotQ40w(seg, off, x, 0, xs, 0, cols) : VectorRows.dotQ40p(seg, off, xp, 0, xs, 0, cols);
                        }
                    }
                    case F16 -> {
                        float[] buf = VectorRows.Halves.WIDE ? scratch(0, VectorRows.Halves.CHUNK) : null;
                        for (int r = r0; r < r1; r++) {
                            long off = w.rowOffset(r);
                            out[r] = VectorRows.Halves.WIDE
                                    ? VectorRows.dotF16w(seg, off, x, 0, cols, buf) : VectorRows.dotF16p(seg, off, xp, 0, x, 0, cols);
                        }
                    }
                    default -> {
                        for (int r = r0; r < r1; r++) {
                            out[r] = VectorRows.dot(w.type(), seg, w.rowOffset(r), x, 0, cols);
                        }
                    }
                }
                touchSink += touched;
            } else {
                batchRows(r0, r1);
            }
        }

        /**
         * Dequantizes ROW_GROUP rows at a time into L1-resident scratch and multiplies them with a
         * block of the batch, four activation vectors at a time: each weight byte is read once per
         * block (once per call for batches up to BATCH_BLOCK_FLOATS / cols vectors).
         */
        private void batchRows(int r0, int r1) {
            int cols = w.cols();
            int rows = w.rows();
            int block = batchBlock(batch, cols);
            float[] buf = scratch(0, ROW_GROUP * cols);
            for (int b0 = 0; b0 < batch; b0 += block) {
                int b1 = Math.min(batch, b0 + block);
                for (int r = r0; r < r1; r += ROW_GROUP) {
                    int g = Math.min(ROW_GROUP, r1 - r);
                    for (int j = 0; j < g; j++) {
                        VectorRows.dequantize(w.type(), w.data(), w.rowOffset(r + j), cols, buf, j * cols);
                    }
                    int b = b0;
                    if (g == ROW_GROUP && cols % L == 0) {
                        if (VectorRows.WIDE) {
                            for (; b + 4 <= b1; b += 4) {
                                VectorRows.dot4x4(buf, 0, x, b * cols, cols, out, b * rows + r, rows);
                            }
                        }
                        for (; b + 2 <= b1; b += 2) {
                            VectorRows.dot4x2(buf, 0, x, b * cols, cols, out, b * rows + r, rows);
                        }
                    }
                    for (; b + 4 <= b1; b += 4) {
                        for (int j = 0; j < g; j++) {
                            VectorRows.dot4(buf, j * cols, x, b * cols, cols, out, b * rows + r + j, rows);
                        }
                    }
                    for (; b < b1; b++) {
                        for (int j = 0; j < g; j++) {
                            out[b * rows + r + j] = VectorRows.dot(buf, j * cols, x, b * cols, cols);
                        }
                    }
                }
            }
        }
    }

    /** Single-threaded, scalar loads from the heap segment (see the class comment), vector dot products. */
    private static void heapMatmul(WeightMatrix w, float[] x, float[] out, int batch) {
        int rows = w.rows();
        int cols = w.cols();
        float[] row = scratch(0, cols);
        for (int r = 0; r < rows; r++) {
            ScalarKernels.dequantize(w.type(), w.data(), w.rowOffset(r), cols, row, 0);
            for (int b = 0; b < batch; b++) {
                out[b * rows + r] = VectorRows.dot(row, 0, x, b * cols, cols);
            }
        }
    }

    @Override
    public void dequantizeRow(WeightMatrix w, int row, float[] out, int outOffset) {
        if (w.data().isNative()) {
            VectorRows.dequantize(w.type(), w.data(), w.rowOffset(row), w.cols(), out, outOffset);
        } else {
            ScalarKernels.dequantize(w.type(), w.data(), w.rowOffset(row), w.cols(), out, outOffset);
        }
    }

    // ---- normalisation and position ------------------------------------------------------------------

    @Override
    public void rmsnorm(float[] out, int outOffset, float[] x, int xOffset, int n, int count,
                        float[] weight, float weightOffset, float eps) {
        for (int v = 0; v < count; v++) {
            int xo = xOffset + v * n;
            int oo = outOffset + v * n;
            float inv = ScalarKernels.rsqrt(VectorRows.dot(x, xo, x, xo, n) / n + eps);
            int i = 0;
            for (; i <= n - L; i += L) {
                FloatVector wv = FloatVector.fromArray(F, weight, i).add(weightOffset);
                FloatVector.fromArray(F, x, xo + i).mul(inv).mul(wv).intoArray(out, oo + i);
            }
            for (; i < n; i++) {
                out[oo + i] = x[xo + i] * inv * (weightOffset + weight[i]);
            }
        }
    }

    /** Angles and rotations as in {@link ScalarKernels#rope}, so results are bitwise equal. */
    @Override
    public void rope(float[] x, int offset, int nHeads, int headDim, int pos, float[] invFreq, boolean neox) {
        int half = headDim / 2;
        float[] cs = scratch(1, 2 * half);
        for (int i = 0; i < half; i++) {
            float angle = pos * invFreq[i];
            cs[i] = (float) Math.cos(angle);
            cs[half + i] = (float) Math.sin(angle);
        }
        for (int h = 0; h < nHeads; h++) {
            int base = offset + h * headDim;
            int i = 0;
            if (neox) {
                for (; i <= half - L; i += L) {
                    FloatVector cos = FloatVector.fromArray(F, cs, i);
                    FloatVector sin = FloatVector.fromArray(F, cs, half + i);
                    FloatVector x0 = FloatVector.fromArray(F, x, base + i);
                    FloatVector x1 = FloatVector.fromArray(F, x, base + half + i);
                    x0.mul(cos).sub(x1.mul(sin)).intoArray(x, base + i);
                    x1.mul(cos).add(x0.mul(sin)).intoArray(x, base + half + i);
                }
            }
            // Interleaved pairs (2i, 2i+1) stay scalar: a head is 64 elements and the shuffles cost more.
            for (; i < half; i++) {
                int a = neox ? base + i : base + 2 * i;
                int b = neox ? base + i + half : base + 2 * i + 1;
                float x0 = x[a];
                float x1 = x[b];
                x[a] = x0 * cs[i] - x1 * cs[half + i];
                x[b] = x1 * cs[i] + x0 * cs[half + i];
            }
        }
    }

    // ---- attention -------------------------------------------------------------------------------------

    /**
     * Scores for up to four query heads at a time: each cached key vector, loaded once, meets every
     * head of the group. A head's score is the same sum in the same order whether it is scored in a
     * group of four or alone, so results do not depend on how heads are grouped.
     */
    @Override
    public void attention(float[] q, int qOffset, int heads, float[] keys, float[] values, int kvStride, int kvOffset,
                          int headDim, int from, int to, int[] blocks, int blockShift, float scale,
                          float[] out, int outOffset, float[] scratch) {
        int n = to - from + 1;
        int h = 0;
        for (; h + 4 <= heads; h += 4) {
            scores4(q, qOffset + h * headDim, keys, kvStride, kvOffset, headDim, from, n, blocks, blockShift, scale,
                    scratch, h * n);
        }
        for (; h < heads; h++) {
            scores1(q, qOffset + h * headDim, keys, kvStride, kvOffset, headDim, from, n, blocks, blockShift, scale,
                    scratch, h * n);
        }
        for (h = 0; h < heads; h++) {
            softmax(scratch, h * n, n);
            weightedValues(values, kvStride, kvOffset, headDim, from, n, blocks, blockShift, scratch, h * n,
                    out, outOffset + h * headDim);
        }
    }

    /**
     * torch.softmax in float32 over {@code v[o..o+n)} as {@link ScalarKernels#softmax}, eight
     * positions at a time with {@link #expShifted}. (The Vector API's own EXP is a library call
     * that C2 left boxed in the attention loop here: gigabytes of garbage per benchmark.)
     */
    static void softmax(float[] v, int o, int n) {
        int whole = n - n % L;
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int t = 0; t < whole; t += L) {
            mv = mv.max(FloatVector.fromArray(F, v, o + t));
        }
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (int t = whole; t < n; t++) {
            max = Math.max(max, v[o + t]);
        }
        float sum = expShifted(v, o, whole, max);
        for (int t = whole; t < n; t++) {
            v[o + t] = (float) Math.exp(v[o + t] - max);
            sum += v[o + t];
        }
        for (int t = 0; t < whole; t += L) {
            FloatVector.fromArray(F, v, o + t).div(sum).intoArray(v, o + t);
        }
        for (int t = whole; t < n; t++) {
            v[o + t] /= sum;
        }
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds a float of magnitude under 2^22 to an integer in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;

    /**
     * v[i] = e^(v[i] - shift) for i in [o, o+n), n a multiple of the lane count, where no v[i]
     * exceeds shift; returns the sum of the results. Cephes' expf: x = k ln2 + r with |r| <= ln2/2,
     * a degree-6 polynomial for e^r, k added to the exponent bits; within 2 ulp of Math.exp. An
     * x under -86 gives e^-86 (about 4e-38) instead of a subnormal or zero: in a softmax, whose
     * sum is at least 1, that is below float32's resolution of every other term. The loop takes
     * and returns arrays, not vectors, so that no vector crosses a call C2 might not inline.
     */
    static float expShifted(float[] v, int o, int n, float shift) {
        FloatVector sum = FloatVector.zero(F);
        FloatVector log2e = FloatVector.broadcast(F, LOG2E);
        FloatVector rounder = FloatVector.broadcast(F, ROUNDER);
        FloatVector ln2Hi = FloatVector.broadcast(F, -LN2_HI);
        FloatVector ln2Lo = FloatVector.broadcast(F, -LN2_LO);
        FloatVector c0 = FloatVector.broadcast(F, 1.9875691500e-4f);
        FloatVector c1 = FloatVector.broadcast(F, 1.3981999507e-3f);
        FloatVector c2 = FloatVector.broadcast(F, 8.3334519073e-3f);
        FloatVector c3 = FloatVector.broadcast(F, 4.1665795894e-2f);
        FloatVector c4 = FloatVector.broadcast(F, 1.6666665459e-1f);
        FloatVector c5 = FloatVector.broadcast(F, 5.0000001201e-1f);
        int rounderBits = Float.floatToRawIntBits(ROUNDER);
        for (int i = 0; i < n; i += L) {
            FloatVector x = FloatVector.fromArray(F, v, o + i).sub(shift).max(-86f);
            FloatVector t = x.fma(log2e, rounder);
            FloatVector k = t.sub(rounder);
            IntVector pow2 = t.reinterpretAsInts().sub(rounderBits).lanewise(VectorOperators.LSHL, 23);
            FloatVector r = k.fma(ln2Hi, x);
            r = k.fma(ln2Lo, r);
            FloatVector p = r.fma(c0, c1).fma(r, c2).fma(r, c3).fma(r, c4).fma(r, c5);
            FloatVector e = p.mul(r.mul(r)).add(r).add(1f).reinterpretAsInts().add(pow2).reinterpretAsFloats();
            e.intoArray(v, o + i);
            sum = sum.add(e);
        }
        return sum.reduceLanes(VectorOperators.ADD);
    }

    private static void scores4(float[] q, int qo, float[] keys, int kvStride, int kvOffset, int headDim, int from,
                                int n, int[] blocks, int blockShift, float scale, float[] s, int so) {
        int whole = headDim - headDim % L;
        for (int t = 0; t < n; t++) {
            int k = Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int i = 0; i < whole; i += L) {
                FloatVector kv = FloatVector.fromArray(F, keys, k + i);
                a0 = kv.fma(FloatVector.fromArray(F, q, qo + i), a0);
                a1 = kv.fma(FloatVector.fromArray(F, q, qo + headDim + i), a1);
                a2 = kv.fma(FloatVector.fromArray(F, q, qo + 2 * headDim + i), a2);
                a3 = kv.fma(FloatVector.fromArray(F, q, qo + 3 * headDim + i), a3);
            }
            float d0 = a0.reduceLanes(VectorOperators.ADD);
            float d1 = a1.reduceLanes(VectorOperators.ADD);
            float d2 = a2.reduceLanes(VectorOperators.ADD);
            float d3 = a3.reduceLanes(VectorOperators.ADD);
            for (int i = whole; i < headDim; i++) {
                float kv = keys[k + i];
                d0 += q[qo + i] * kv;
                d1 += q[qo + headDim + i] * kv;
                d2 += q[qo + 2 * headDim + i] * kv;
                d3 += q[qo + 3 * headDim + i] * kv;
            }
            s[so + t] = scale * d0;
            s[so + n + t] = scale * d1;
            s[so + 2 * n + t] = scale * d2;
            s[so + 3 * n + t] = scale * d3;
        }
    }

    /** One head's scores, summed exactly as {@link #scores4} sums each of its heads. */
    private static void scores1(float[] q, int qo, float[] keys, int kvStride, int kvOffset, int headDim, int from,
                                int n, int[] blocks, int blockShift, float scale, float[] s, int so) {
        int whole = headDim - headDim % L;
        for (int t = 0; t < n; t++) {
            int k = Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset;
            FloatVector a0 = FloatVector.zero(F);
            for (int i = 0; i < whole; i += L) {
                a0 = FloatVector.fromArray(F, keys, k + i).fma(FloatVector.fromArray(F, q, qo + i), a0);
            }
            float d0 = a0.reduceLanes(VectorOperators.ADD);
            for (int i = whole; i < headDim; i++) {
                d0 += q[qo + i] * keys[k + i];
            }
            s[so + t] = scale * d0;
        }
    }

    /** out = sum over positions of p[t] * value(t), for one head. */
    private static void weightedValues(float[] values, int kvStride, int kvOffset, int headDim, int from, int n,
                                       int[] blocks, int blockShift, float[] scratch, int po,
                                       float[] out, int outOffset) {
        // Weighted sum with the output in registers: four vectors of it per pass over the positions.
        int i = 0;
        for (; i <= headDim - 4 * L; i += 4 * L) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int t = 0; t < n; t++) {
                int v = Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset + i;
                FloatVector p = FloatVector.broadcast(F, scratch[po + t]);
                a0 = FloatVector.fromArray(F, values, v).fma(p, a0);
                a1 = FloatVector.fromArray(F, values, v + L).fma(p, a1);
                a2 = FloatVector.fromArray(F, values, v + 2 * L).fma(p, a2);
                a3 = FloatVector.fromArray(F, values, v + 3 * L).fma(p, a3);
            }
            a0.intoArray(out, outOffset + i);
            a1.intoArray(out, outOffset + i + L);
            a2.intoArray(out, outOffset + i + 2 * L);
            a3.intoArray(out, outOffset + i + 3 * L);
        }
        for (; i <= headDim - L; i += L) {
            FloatVector a0 = FloatVector.zero(F);
            for (int t = 0; t < n; t++) {
                int v = Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset + i;
                a0 = FloatVector.fromArray(F, values, v).fma(FloatVector.broadcast(F, scratch[po + t]), a0);
            }
            a0.intoArray(out, outOffset + i);
        }
        for (; i < headDim; i++) {
            float a = 0f;
            for (int t = 0; t < n; t++) {
                a += scratch[po + t] * values[Kernels.slot(blocks, blockShift, from + t) * kvStride + kvOffset + i];
            }
            out[outOffset + i] = a;
        }
    }

    // ---- element-wise ------------------------------------------------------------------------------------

    /**
     * 0.5x(1 + tanh(u)) rewritten as x / (1 + exp(-2u)) (the same function: 1 + tanh(u) =
     * 2 / (1 + e^-2u)), so one vector exp serves both activations; it also avoids the cancellation
     * of 1 + tanh(u) near -1 that the scalar form suffers for negative x.
     */
    @Override
    public void geluTanhMul(float[] gate, float[] up, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x = FloatVector.fromArray(F, gate, i);
            FloatVector u = x.mul(x).mul(x).mul(ScalarKernels.GELU_COEF).add(x).mul(-2f * ScalarKernels.SQRT_2_OVER_PI);
            x.div(u.lanewise(VectorOperators.EXP).add(1f)).mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
        }
        for (; i < n; i++) {
            gate[i] = ScalarKernels.geluTanh(gate[i]) * up[i];
        }
    }

    @Override
    public void siluMul(float[] gate, float[] up, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x = FloatVector.fromArray(F, gate, i);
            x.div(x.neg().lanewise(VectorOperators.EXP).add(1f)).mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
        }
        for (; i < n; i++) {
            gate[i] = ScalarKernels.silu(gate[i]) * up[i];
        }
    }

    @Override
    public void add(float[] a, float[] b, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(a, i);
        }
        for (; i < n; i++) {
            a[i] += b[i];
        }
    }

    @Override
    public void scale(float[] x, int n, float s) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(F, x, i).mul(s).intoArray(x, i);
        }
        for (; i < n; i++) {
            x[i] *= s;
        }
    }

    @Override
    public void forEach(int count, IntConsumer task) {
        pool.run(count, task);
    }
}
