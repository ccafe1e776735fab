package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static dev.shardlight.engine.kernel.ScalarKernels.f16;

/**
 * Vector API loops over one stored row, read in place from its (usually memory-mapped) segment:
 * the dot product of a row with an activation vector, per {@link GgmlType}, and the dequantization
 * of a row into floats. Quantized values are widened one float vector at a time: with {@code L}
 * float lanes, {@code L} bytes (or shorts) are loaded into a vector of the same lane count and
 * converted lane for lane ({@code B2F}, {@code S2I}), which on AVX2 is one vpmovsx + vcvtdq2ps.
 *
 * <p>Dequantization performs ggml's float operations in ggml's order (no FMA), so it is bitwise
 * equal to {@link ScalarKernels}. Dot products accumulate in float32 in lane order; they differ
 * from the scalar loop only by summation order.
 */
final class VectorRows {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /**
     * 16 float lanes (AVX-512, 32 vector registers) rather than 8 (AVX2): the Q8_0 / Q4_0 row loops
     * are {@link #dotQ80w} / {@link #dotQ40w} instead of the permuted 8-lane ones, batched matmul
     * takes the {@link #dot4x4} tile (it would spill AVX2's sixteen registers), and a Q8_0 block
     * dequantizes as two written-out vectors.
     */
    static final boolean WIDE = L == 16;
    /**
     * Bytes and shorts with one lane per float lane, so a conversion maps lane i to lane i (on a
     * machine with fewer than 8 float lanes there is no such byte shape; {@link #supported} is false).
     */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, L * 16)));
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Of a half shifted left by 13 (see f16v): the sign, exponent and mantissa bits; the exponent bits. */
    private static final int HALF_KEEP = 0x8FFFE000;
    private static final int HALF_EXPONENT = 0x0F800000;
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    /** 32 bytes as eight int lanes, for cutting bit fields out of packed bytes. */
    private static final VectorSpecies<Integer> PACKED = IntVector.SPECIES_256;
    /**
     * Per-thread room for one Q6_K block's unpacked quants. Off-heap on purpose: Vector API loads
     * and stores on a heap segment ran several times slower here (JDK 25, AVX2).
     */
    private static final ThreadLocal<MemorySegment> Q6K_QUANTS = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(256, 64));

    private VectorRows() {
    }

    /** Whether this machine's vectors fit the loops here: 8 or 16 float lanes (AVX2, AVX-512). */
    static boolean supported() {
        return L == 8 || L == 16;
    }

    // ---- dot products: sum_c row[c] * x[xo + c] --------------------------------------------------

    static float dot(GgmlType type, MemorySegment seg, long off, float[] x, int xo, int n) {
        return switch (type) {
            case F32 -> dotF32(seg, off, x, xo, n);
            case F16 -> dotF16(seg, off, x, xo, n);
            case BF16 -> dotBF16(seg, off, x, xo, n);
            case Q8_0 -> dotQ80(seg, off, x, xo, n);
            case Q4_0 -> dotQ40(seg, off, x, xo, n);
            case Q4_K -> dotQ4K(seg, off, x, xo, n);
            case Q6_K -> dotQ6K(seg, off, x, xo, n);
        };
    }

    static float dotF32(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, seg, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, seg, off + 4L * (i + L), LE)
                    .fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromMemorySegment(F, seg, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, xo + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += seg.get(ScalarKernels.FLOAT_LE, off + 4L * i) * x[xo + i];
        }
        return sum;
    }

    static float dotBF16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = bf16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = bf16(seg, off + 2L * (i + L)).fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = bf16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += Float.intBitsToFloat(seg.get(ScalarKernels.SHORT_LE, off + 2L * i) << 16) * x[xo + i];
        }
        return sum;
    }

    static float dotF16(MemorySegment seg, long off, float[] x, int xo, int n) {
        IntVector keep = IntVector.broadcast(I, HALF_KEEP);
        IntVector exponent = IntVector.broadcast(I, HALF_EXPONENT);
        IntVector infExponent = IntVector.broadcast(I, 0x7F800000);
        FloatVector rebias = FloatVector.broadcast(F, 0x1p112f);
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = f16v(seg, off + 2L * i, keep, exponent, infExponent, rebias).fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = f16v(seg, off + 2L * (i + L), keep, exponent, infExponent, rebias).fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = f16v(seg, off + 2L * i, keep, exponent, infExponent, rebias).fma(FloatVector.fromArray(F, x, xo + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += f16(seg, off + 2L * i) * x[xo + i];
        }
        return sum;
    }

    static float dotQ80(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0; blk < n / 32; blk++) {
            long b = off + blk * 34L;
            int xb = xo + blk * 32;
            FloatVector s = FloatVector.zero(F);
            for (int k = 0; k < 32; k += L) {
                s = bytes(seg, b + 2 + k).fma(FloatVector.fromArray(F, x, xb + k), s);
            }
            acc = s.fma(FloatVector.broadcast(F, f16(seg, b)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    // ---- Q8_0 and Q4_0 against an activation prepared once per matmul ----------------------------

    /*
     * The loops above widen 8 quants per float vector with one narrow load each (a bounds-checked
     * MemorySegment access per 8 elements). The ones below load a block's quants with one 256-bit
     * (Q8_0) or 128-bit (Q4_0) load and cut the lanes out with shifts on int lanes, which leaves the
     * elements in a fixed permuted order; the activation is permuted the same way once per matmul
     * (prepareQ80 / prepareQ40), so the rows' inner loops do one weight load, shifts, converts and
     * FMAs per block. They use 8-lane (256-bit) vectors whatever the preferred shape is.
     */

    static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I8 = IntVector.SPECIES_256;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;

    /**
     * Q8_0 order: a block's 32 quants loaded as eight little-endian ints hold element 4j + k in byte
     * k of int j; so xp[32*blk + 8*k + j] = x[32*blk + 4*j + k].
     */
    static void prepareQ80(float[] x, int xo, int n, float[] xp, int po) {
        for (int b = 0; b < n; b += 32) {
            for (int j = 0; j < 8; j++) {
                for (int k = 0; k < 4; k++) {
                    xp[po + b + 8 * k + j] = x[xo + b + 4 * j + k];
                }
            }
        }
    }

    /**
     * Sum of a Q8_0 row with an activation in {@link #prepareQ80} order. Byte k of each int lane is
     * sign-extended by two shifts. Two blocks per iteration, each into its own accumulator, with the
     * block bodies written out here rather than in a helper: a vector returned from a call C2 does
     * not inline is boxed, which made this loop 4x slower. The scales are read with
     * {@code Float.float16ToFloat} in place for the same reason: past C2's node budget for one
     * method, even a small helper such as {@link ScalarKernels#f16} is left as a call. An odd last
     * block is summed in scalar code.
     */
    static float dotQ80p(MemorySegment seg, long off, float[] xp, int po, int n) {
        FloatVector acc0 = FloatVector.zero(F8);
        FloatVector acc1 = FloatVector.zero(F8);
        int nb = n / 32;
        int blk = 0;
        for (; blk + 1 < nb; blk += 2) {
            long b = off + blk * 34L;
            int xb = po + blk * 32;
            IntVector v = IntVector.fromMemorySegment(I8, seg, b + 2, LE);
            IntVector u = IntVector.fromMemorySegment(I8, seg, b + 36, LE);
            FloatVector s0 = ((FloatVector) v.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F8, xp, xb));
            FloatVector s1 = ((FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F8, xp, xb + 8));
            s0 = ((FloatVector) v.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, xb + 16), s0);
            s1 = ((FloatVector) v.lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, xb + 24), s1);
            FloatVector t0 = ((FloatVector) u.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F8, xp, xb + 32));
            FloatVector t1 = ((FloatVector) u.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F8, xp, xb + 40));
            t0 = ((FloatVector) u.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, xb + 48), t0);
            t1 = ((FloatVector) u.lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, xb + 56), t1);
            acc0 = s0.add(s1).fma(FloatVector.broadcast(F8, Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, b))), acc0);
            acc1 = t0.add(t1).fma(FloatVector.broadcast(F8, Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, b + 34))), acc1);
        }
        float tail = 0f;
        if (blk < nb) {
            long b = off + blk * 34L;
            for (int j = 0; j < 8; j++) {
                for (int k = 0; k < 4; k++) {
                    tail += i8(seg, b + 2 + 4 * j + k) * xp[po + blk * 32 + 8 * k + j];
                }
            }
            tail *= f16(seg, b);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + tail;
    }

    // ---- Q8_0 and Q4_0 on 16 float lanes (AVX-512), activation in natural order ------------------

    /*
     * With 16 float lanes one 128-bit load widened byte by byte to int lanes (vpmovsxbd /
     * vpmovzxbd) fills a whole vector, so a Q8_0 block is two widening loads and a Q4_0 block one
     * load whose low and high nibbles are elements 0-15 and 16-31: no shifts to cut lanes out and
     * no permuted activation. About half the vector operations per block of the 8-lane loops above.
     */

    static final VectorSpecies<Float> F16L = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I16L = IntVector.SPECIES_512;


    /**
     * Sum of a Q8_0 row with x. Two blocks per iteration into separate accumulators, block bodies
     * written out and scales read in place (see {@link #dotQ80p} for why); an odd last block is
     * summed in scalar code. The loop indexes the matrix segment itself: indexing a slice of the
     * row let C2 drop the bounds checks (10% faster in L2), but the slice object was then
     * allocated for every row wherever this method was compiled on its own (VectorKernelsAllocationTest).
     */
    static float dotQ80w(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F16L);
        FloatVector acc1 = FloatVector.zero(F16L);
        int nb = n / 32;
        int blk = 0;
        for (; blk + 1 < nb; blk += 2) {
            long b = off + blk * 34L;
            int xb = xo + blk * 32;
            FloatVector s = ((FloatVector) ByteVector.fromMemorySegment(B16, seg, b + 2, LE)
                    .convertShape(VectorOperators.B2F, F16L, 0)).mul(FloatVector.fromArray(F16L, x, xb));
            FloatVector t = ((FloatVector) ByteVector.fromMemorySegment(B16, seg, b + 36, LE)
                    .convertShape(VectorOperators.B2F, F16L, 0)).mul(FloatVector.fromArray(F16L, x, xb + 32));
            s = ((FloatVector) ByteVector.fromMemorySegment(B16, seg, b + 18, LE)
                    .convertShape(VectorOperators.B2F, F16L, 0)).fma(FloatVector.fromArray(F16L, x, xb + 16), s);
            t = ((FloatVector) ByteVector.fromMemorySegment(B16, seg, b + 52, LE)
                    .convertShape(VectorOperators.B2F, F16L, 0)).fma(FloatVector.fromArray(F16L, x, xb + 48), t);
            acc0 = s.fma(FloatVector.broadcast(F16L, Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, b))), acc0);
            acc1 = t.fma(FloatVector.broadcast(F16L, Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, b + 34))), acc1);
        }
        float tail = 0f;
        if (blk < nb) {
            long b = off + blk * 34L;
            for (int k = 0; k < 32; k++) {
                tail += i8(seg, b + 2 + k) * x[xo + blk * 32 + k];
            }
            tail *= f16(seg, b);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + tail;
    }

    /** xs[blk] = 8 * sum(x over block blk): the Q4_0 offset of 8, subtracted once per block by {@link #dotQ40w}. */
    static void blockSums8(float[] x, int xo, int n, float[] xs, int so) {
        for (int b = 0; b < n; b += 32) {
            float sum = 0f;
            for (int k = 0; k < 32; k++) {
                sum += x[xo + b + k];
            }
            xs[so + b / 32] = 8f * sum;
        }
    }

    /**
     * Sum of a Q4_0 row with x, xs from {@link #blockSums8}: the unsigned nibbles are multiplied and
     * d * xs is subtracted per block. One block per iteration, alternating accumulators (two blocks
     * per iteration, on a slice of the row, ran 1.4x slower from DRAM).
     */
    static float dotQ40w(MemorySegment seg, long off, float[] x, int xo, float[] xs, int so, int n) {
        IntVector mask = IntVector.broadcast(I16L, 0xF);
        FloatVector acc0 = FloatVector.zero(F16L);
        FloatVector acc1 = FloatVector.zero(F16L);
        float bias = 0f;
        int nb = n / 32;
        for (int blk = 0; blk < nb; blk++) {
            long b = off + blk * 18L;
            int xb = xo + blk * 32;
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B16, seg, b + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I16L, 0);
            FloatVector s = ((FloatVector) q.and(mask).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F16L, x, xb));
            s = ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0))
                    .fma(FloatVector.fromArray(F16L, x, xb + 16), s);
            float d = Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, b));
            bias += d * xs[so + blk];
            FloatVector dv = FloatVector.broadcast(F16L, d);
            if ((blk & 1) == 0) {
                acc0 = s.fma(dv, acc0);
            } else {
                acc1 = s.fma(dv, acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - bias;
    }

    /**
     * Q4_0 order: a block's 16 quant bytes zero-extended to shorts and read as eight ints hold
     * bytes 2j and 2j+1 in int j; their nibbles are elements 2j, 2j+16 (bits 0-3, 4-7) and 2j+1,
     * 2j+17 (bits 16-19, 20-23). xp gets those four in that order, eight lanes each; xs[blk] gets
     * 8 * sum(x over the block), so the rows multiply the unsigned nibbles and subtract d * xs once
     * per block instead of subtracting 8 from every quant.
     */
    static void prepareQ40(float[] x, int xo, int n, float[] xp, int po, float[] xs, int so) {
        for (int b = 0; b < n; b += 32) {
            for (int j = 0; j < 8; j++) {
                xp[po + b + j] = x[xo + b + 2 * j];
                xp[po + b + 8 + j] = x[xo + b + 2 * j + 16];
                xp[po + b + 16 + j] = x[xo + b + 2 * j + 1];
                xp[po + b + 24 + j] = x[xo + b + 2 * j + 17];
            }
        }
        blockSums8(x, xo, n, xs, so);
    }

    /** Sum of a Q4_0 row with an activation in {@link #prepareQ40} order (block body inline, as in dotQ80p). */
    static float dotQ40p(MemorySegment seg, long off, float[] xp, int po, float[] xs, int so, int n) {
        IntVector mask = IntVector.broadcast(I8, 0xF);
        FloatVector acc0 = FloatVector.zero(F8);
        FloatVector acc1 = FloatVector.zero(F8);
        float bias = 0f;
        int nb = n / 32;
        for (int blk = 0; blk < nb; blk++) {
            long b = off + blk * 18L;
            int xb = po + blk * 32;
            IntVector v = ((ShortVector) ByteVector.fromMemorySegment(B16, seg, b + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2S, S16, 0)).reinterpretAsInts();
            FloatVector s0 = ((FloatVector) v.and(mask).convert(VectorOperators.I2F, 0))
                    .mul(FloatVector.fromArray(F8, xp, xb));
            FloatVector s1 = ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).and(mask).convert(VectorOperators.I2F, 0))
                    .mul(FloatVector.fromArray(F8, xp, xb + 8));
            s0 = ((FloatVector) v.lanewise(VectorOperators.LSHR, 16).and(mask).convert(VectorOperators.I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, xb + 16), s0);
            s1 = ((FloatVector) v.lanewise(VectorOperators.LSHR, 20).convert(VectorOperators.I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, xb + 24), s1);
            float d = f16(seg, b);
            bias += d * xs[so + blk];
            FloatVector dv = FloatVector.broadcast(F8, d);
            if ((blk & 1) == 0) {
                acc0 = s0.add(s1).fma(dv, acc0);
            } else {
                acc1 = s0.add(s1).fma(dv, acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - bias;
    }

    // ---- F16 through C2's auto-vectorized conversion (vcvtph2ps) ------------------------------------

    /**
     * Whether C2 turns a plain {@code Float.float16ToFloat} loop ({@link #halvesToFloats}) into vector
     * conversions here: it does (vcvtph2ps, about 0.03 ns per half) unless loop unrolling is capped,
     * and {@code -XX:LoopMaxUnroll=2}, which AVX2 machines run with (see bin/shardlight), leaves it
     * scalar (0.55 ns per half). The Vector API itself has no half-to-float conversion. A holder
     * class: reading the VM's options takes about 16 ms, paid only by a model with F16 weights.
     */
    static final class Halves {
        static final boolean AUTOVECTORIZE = loopsAutovectorize();
        /** The 16-lane F16 matrix-vector loop ({@link #dotF16w}) replaces {@link #dotF16p}. */
        static final boolean WIDE = VectorRows.WIDE && AUTOVECTORIZE;
        /** Halves converted per pass of {@link #dotF16w}; its scratch holds this many floats. */
        static final int CHUNK = 512;

        private Halves() {
        }

        private static boolean loopsAutovectorize() {
            try {
                var vm = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
                return Boolean.parseBoolean(vm.getVMOption("UseSuperWord").getValue())
                        && Integer.parseInt(vm.getVMOption("LoopMaxUnroll").getValue()) >= 8;
            } catch (RuntimeException | LinkageError e) {
                return false;
            }
        }
    }

    /** out[o + i] = the half at off + 2i, for i < m: a loop C2 vectorizes (see {@link Halves}). */
    static void halvesToFloats(MemorySegment seg, long off, float[] out, int o, int m) {
        for (int i = 0; i < m; i++) {
            out[o + i] = Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, off + 2L * i));
        }
    }

    /**
     * Sum of an F16 row with x on 16 lanes: {@link Halves#CHUNK} halves at a time are converted into
     * buf (L1) by {@link #halvesToFloats} and multiplied from there. Conversion is exact, infinities
     * and NaNs included. Single thread, in cache: 15 GB/s against 11 for {@link #dotF16p}; from
     * DRAM 8.1 against 5.9 GB/s.
     */
    static float dotF16w(MemorySegment seg, long off, float[] x, int xo, int n, float[] buf) {
        FloatVector acc0 = FloatVector.zero(F16L);
        FloatVector acc1 = FloatVector.zero(F16L);
        float tail = 0f;
        for (int c = 0; c < n; c += Halves.CHUNK) {
            int m = Math.min(Halves.CHUNK, n - c);
            halvesToFloats(seg, off + 2L * c, buf, 0, m);
            int i = 0;
            for (; i <= m - 32; i += 32) {
                acc0 = FloatVector.fromArray(F16L, buf, i).fma(FloatVector.fromArray(F16L, x, xo + c + i), acc0);
                acc1 = FloatVector.fromArray(F16L, buf, i + 16).fma(FloatVector.fromArray(F16L, x, xo + c + i + 16), acc1);
            }
            for (; i < m; i++) {
                tail += buf[i] * x[xo + c + i];
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + tail;
    }

    /**
     * F16 order: 16 halves loaded as eight little-endian ints hold element 2j in the low and
     * 2j + 1 in the high half of int j, so xp[16*blk + j] = x[16*blk + 2j] and
     * xp[16*blk + 8 + j] = x[16*blk + 2j + 1]; a tail of fewer than 16 is copied as it is.
     */
    static void prepareHalves(float[] x, int xo, int n, float[] xp, int po) {
        int full = n - n % 16;
        for (int b = 0; b < full; b += 16) {
            for (int j = 0; j < 8; j++) {
                xp[po + b + j] = x[xo + b + 2 * j];
                xp[po + b + 8 + j] = x[xo + b + 2 * j + 1];
            }
        }
        System.arraycopy(x, xo + full, xp, po + full, n - full);
    }

    /**
     * Sum of an F16 row with an activation in {@link #prepareHalves} order. Each half is turned into
     * the float 2^-112 times its value by two shifts and a mask (exact for normals and subnormals:
     * the exponent field only moves), the products are summed, and the sum is scaled by 2^112 once.
     * Products under 2^-126 in the scaled domain lose bits below 2^-37 of the real value, far under
     * float32 rounding of the sum. Infinities and NaNs do not survive that mapping, so the loop also
     * notes whether any half had exponent 31 and then redoes the row with {@link #dotF16} from the
     * unpermuted {@code x}.
     */
    static float dotF16p(MemorySegment seg, long off, float[] xp, int po, float[] x, int xo, int n) {
        IntVector keep = IntVector.broadcast(I8, HALF_KEEP);
        IntVector exponents = IntVector.broadcast(I8, 0x7C007C00);
        IntVector carry = IntVector.broadcast(I8, 0x04000400);
        IntVector bad = IntVector.zero(I8);
        FloatVector acc0 = FloatVector.zero(F8);
        FloatVector acc1 = FloatVector.zero(F8);
        FloatVector acc2 = FloatVector.zero(F8);
        FloatVector acc3 = FloatVector.zero(F8);
        int i = 0;
        for (; i <= n - 32; i += 32) {
            IntVector v = IntVector.fromMemorySegment(I8, seg, off + 2L * i, LE);
            IntVector u = IntVector.fromMemorySegment(I8, seg, off + 2L * i + 32, LE);
            bad = bad.or(v.and(exponents).add(carry)).or(u.and(exponents).add(carry));
            acc0 = v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(keep).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F8, xp, po + i), acc0);
            acc1 = v.lanewise(VectorOperators.ASHR, 3).and(keep).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F8, xp, po + i + 8), acc1);
            acc2 = u.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(keep).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F8, xp, po + i + 16), acc2);
            acc3 = u.lanewise(VectorOperators.ASHR, 3).and(keep).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F8, xp, po + i + 24), acc3);
        }
        for (; i <= n - 16; i += 16) {
            IntVector v = IntVector.fromMemorySegment(I8, seg, off + 2L * i, LE);
            bad = bad.or(v.and(exponents).add(carry));
            acc0 = v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(keep).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F8, xp, po + i), acc0);
            acc1 = v.lanewise(VectorOperators.ASHR, 3).and(keep).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(F8, xp, po + i + 8), acc1);
        }
        // a half with exponent 31 carried into bit 15 (low half) or bit 31 (high half)
        if ((bad.reduceLanes(VectorOperators.OR) & 0x80008000) != 0) {
            return dotF16(seg, off, x, xo, n);
        }
        float sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD) * 0x1p112f;
        for (; i < n; i++) {
            sum += f16(seg, off + 2L * i) * xp[po + i];
        }
        return sum;
    }

    /*
     * The quantized loops below create their constant vectors (masks, biases) once per row or
     * block, outside the inner loops: C2 does not hoist Vector API broadcasts out of a loop, and
     * re-materialising them in every iteration made an earlier Q6_K loop almost twice as slow.
     * Blocks of 256 run in methods of their own that return a float, so that no vector crosses a
     * call C2 may refuse to inline (a vector that does is boxed on the heap).
     */

    static float dotQ40(MemorySegment seg, long off, float[] x, int xo, int n) {
        IntVector lowMask = IntVector.broadcast(I, 0xF);
        IntVector bias = IntVector.broadcast(I, 8);
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0; blk < n / 32; blk++) {
            long b = off + blk * 18L;
            int xb = xo + blk * 32;
            FloatVector s = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector q = ubytes(seg, b + 2 + k);
                s = toFloats(q.and(lowMask).sub(bias)).fma(FloatVector.fromArray(F, x, xb + k), s);
                s = toFloats(q.lanewise(VectorOperators.LSHR, 4).sub(bias)).fma(FloatVector.fromArray(F, x, xb + 16 + k), s);
            }
            acc = s.fma(FloatVector.broadcast(F, f16(seg, b)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ4K(MemorySegment seg, long off, float[] x, int xo, int n) {
        float sum = 0f;
        for (int blk = 0; blk < n / 256; blk++) {
            sum += dotQ4KBlock(seg, off + blk * 144L, x, xo + blk * 256);
        }
        return sum;
    }

    /**
     * Q4_K: y = d*sc*q - dmin*m per 32-element sub-block, so a sub-block contributes
     * d*sc*sum(q*x) - dmin*m*sum(x); both sums are kept as vectors and folded in with one FMA each.
     */
    private static float dotQ4KBlock(MemorySegment seg, long b, float[] x, int xo) {
        IntVector lowMask = IntVector.broadcast(I, 0xF);
        float d = f16(seg, b);
        float dmin = f16(seg, b + 2);
        long scales = seg.get(LONG_LE, b + 4);
        int scalesHigh = seg.get(INT_LE, b + 12);
        FloatVector acc = FloatVector.zero(F);
        for (int c = 0; c < 4; c++) {
            long q = b + 16 + 32L * c;
            int xl = xo + 64 * c;
            FloatVector qxLo = FloatVector.zero(F);
            FloatVector qxHi = FloatVector.zero(F);
            FloatVector xLo = FloatVector.zero(F);
            FloatVector xHi = FloatVector.zero(F);
            for (int k = 0; k < 32; k += L) {
                IntVector qb = ubytes(seg, q + k);
                FloatVector lo = FloatVector.fromArray(F, x, xl + k);
                FloatVector hi = FloatVector.fromArray(F, x, xl + 32 + k);
                qxLo = toFloats(qb.and(lowMask)).fma(lo, qxLo);
                qxHi = toFloats(qb.lanewise(VectorOperators.LSHR, 4)).fma(hi, qxHi);
                xLo = xLo.add(lo);
                xHi = xHi.add(hi);
            }
            int p1 = scaleMinK4(2 * c, scales, scalesHigh);
            int p2 = scaleMinK4(2 * c + 1, scales, scalesHigh);
            acc = qxLo.fma(FloatVector.broadcast(F, d * (p1 & 0xFF)), acc);
            acc = xLo.fma(FloatVector.broadcast(F, -dmin * (p1 >>> 8)), acc);
            acc = qxHi.fma(FloatVector.broadcast(F, d * (p2 & 0xFF)), acc);
            acc = xHi.fma(FloatVector.broadcast(F, -dmin * (p2 >>> 8)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    static float dotQ6K(MemorySegment seg, long off, float[] x, int xo, int n) {
        MemorySegment quants = Q6K_QUANTS.get();
        float sum = 0f;
        for (int blk = 0; blk < n / 256; blk++) {
            sum += dotQ6KBlock(seg, off + blk * 210L, x, xo + blk * 256, quants);
        }
        return sum;
    }

    /** Sums per 16-element scale group, scaled once per group by d * sc (ggml's int8 scales). */
    private static float dotQ6KBlock(MemorySegment seg, long b, float[] x, int xo, MemorySegment quants) {
        unpackQ6K(seg, b, quants);
        float d = f16(seg, b + 208);
        FloatVector bias = FloatVector.broadcast(F, 32f);
        FloatVector acc = FloatVector.zero(F);
        for (int g = 0; g < 16; g++) {
            FloatVector p = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                int e = 16 * g + k;
                p = bytes(quants, e).sub(bias).fma(FloatVector.fromArray(F, x, xo + e), p);
            }
            acc = p.fma(FloatVector.broadcast(F, d * i8(seg, b + 192 + g)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Q6_K's 256 unsigned 6-bit quants (before the -32), in element order, into {@code quants}
     * (ggml dequantize_row_q6_K): in each 128-element half, byte l of ql holds the low four bits of
     * elements l (low nibble) and l+64 (high nibble), byte l+32 those of l+32 and l+96, and byte l
     * of qh the two high bits of l, l+32, l+64, l+96 (bits 0-1, 2-3, 4-5, 6-7). The bit fields are
     * cut 32 bytes at a time as packed bytes in int lanes (shifts and masks never carry across
     * bytes), which is a quarter of the work of cutting them one quant per int lane.
     */
    private static void unpackQ6K(MemorySegment seg, long b, MemorySegment quants) {
        IntVector low = IntVector.broadcast(PACKED, 0x0F0F0F0F);
        IntVector high = IntVector.broadcast(PACKED, 0x30303030);
        for (int half = 0; half < 2; half++) {
            IntVector a = IntVector.fromMemorySegment(PACKED, seg, b + 64L * half, LE);
            IntVector c = IntVector.fromMemorySegment(PACKED, seg, b + 64L * half + 32, LE);
            IntVector h = IntVector.fromMemorySegment(PACKED, seg, b + 128 + 32L * half, LE);
            long o = 128L * half;
            a.and(low).or(h.lanewise(VectorOperators.LSHL, 4).and(high)).intoMemorySegment(quants, o, LE);
            c.and(low).or(h.lanewise(VectorOperators.LSHL, 2).and(high)).intoMemorySegment(quants, o + 32, LE);
            a.lanewise(VectorOperators.LSHR, 4).and(low).or(h.and(high)).intoMemorySegment(quants, o + 64, LE);
            c.lanewise(VectorOperators.LSHR, 4).and(low).or(h.lanewise(VectorOperators.LSHR, 2).and(high))
                    .intoMemorySegment(quants, o + 96, LE);
        }
    }

    // ---- float32 rows held in arrays (dequantized rows, activations, the KV cache) -------------------

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(F, a, ao + i + L).fma(FloatVector.fromArray(F, b, bo + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc0);
        }
        float sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[ao + i] * b[bo + i];
        }
        return sum;
    }

    /**
     * Dot products of one row {@code w[wo..wo+n)} with four activation vectors {@code x[xo + k*n ..]},
     * k < 4, written to {@code out[o + k*outStride]}: each loaded weight vector feeds four FMAs, which
     * is what makes prefill cheaper per token than decode.
     */
    static void dot4(float[] w, int wo, float[] x, int xo, int n, float[] out, int o, int outStride) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        FloatVector acc3 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector wv = FloatVector.fromArray(F, w, wo + i);
            acc0 = wv.fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = wv.fma(FloatVector.fromArray(F, x, xo + n + i), acc1);
            acc2 = wv.fma(FloatVector.fromArray(F, x, xo + 2 * n + i), acc2);
            acc3 = wv.fma(FloatVector.fromArray(F, x, xo + 3 * n + i), acc3);
        }
        float s0 = acc0.reduceLanes(VectorOperators.ADD);
        float s1 = acc1.reduceLanes(VectorOperators.ADD);
        float s2 = acc2.reduceLanes(VectorOperators.ADD);
        float s3 = acc3.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s0 += w[wo + i] * x[xo + i];
            s1 += w[wo + i] * x[xo + n + i];
            s2 += w[wo + i] * x[xo + 2 * n + i];
            s3 += w[wo + i] * x[xo + 3 * n + i];
        }
        out[o] = s0;
        out[o + outStride] = s1;
        out[o + 2 * outStride] = s2;
        out[o + 3 * outStride] = s3;
    }

    /**
     * Dot products of four consecutive rows {@code w[wo + j*n ..]} (j < 4) with two activation
     * vectors {@code x[xo + k*n ..]} (k < 2), written to {@code out[o + k*outStride + j]}. The rows
     * sit in L1 (dequantized scratch) while a prompt's activations stream from L2: each activation
     * vector loaded here feeds four FMAs, where {@link #dot4} re-reads every activation once per
     * row. Eight accumulators, two activation and one weight vector fit AVX2's sixteen registers.
     * n must be a multiple of the lane count.
     */
    static void dot4x2(float[] w, int wo, float[] x, int xo, int n, float[] out, int o, int outStride) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        for (int i = 0; i < n; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + n + i);
            FloatVector w0 = FloatVector.fromArray(F, w, wo + i);
            a00 = w0.fma(x0, a00);
            a01 = w0.fma(x1, a01);
            FloatVector w1 = FloatVector.fromArray(F, w, wo + n + i);
            a10 = w1.fma(x0, a10);
            a11 = w1.fma(x1, a11);
            FloatVector w2 = FloatVector.fromArray(F, w, wo + 2 * n + i);
            a20 = w2.fma(x0, a20);
            a21 = w2.fma(x1, a21);
            FloatVector w3 = FloatVector.fromArray(F, w, wo + 3 * n + i);
            a30 = w3.fma(x0, a30);
            a31 = w3.fma(x1, a31);
        }
        out[o] = a00.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a20.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a30.reduceLanes(VectorOperators.ADD);
        out[o + outStride] = a01.reduceLanes(VectorOperators.ADD);
        out[o + outStride + 1] = a11.reduceLanes(VectorOperators.ADD);
        out[o + outStride + 2] = a21.reduceLanes(VectorOperators.ADD);
        out[o + outStride + 3] = a31.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #dot4x2} for four activation vectors: each weight vector loaded feeds four FMAs and
     * each activation vector four, half the loads per FMA of dot4x2. Every output is the same
     * sequence of FMAs and the same reduction as in dot4x2, so the results are bitwise equal.
     */
    static void dot4x4(float[] w, int wo, float[] x, int xo, int n, float[] out, int o, int outStride) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a02 = FloatVector.zero(F);
        FloatVector a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a12 = FloatVector.zero(F);
        FloatVector a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a22 = FloatVector.zero(F);
        FloatVector a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        FloatVector a32 = FloatVector.zero(F);
        FloatVector a33 = FloatVector.zero(F);
        for (int i = 0; i < n; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xo + i);
            FloatVector x1 = FloatVector.fromArray(F, x, xo + n + i);
            FloatVector x2 = FloatVector.fromArray(F, x, xo + 2 * n + i);
            FloatVector x3 = FloatVector.fromArray(F, x, xo + 3 * n + i);
            FloatVector w0 = FloatVector.fromArray(F, w, wo + i);
            a00 = w0.fma(x0, a00);
            a01 = w0.fma(x1, a01);
            a02 = w0.fma(x2, a02);
            a03 = w0.fma(x3, a03);
            FloatVector w1 = FloatVector.fromArray(F, w, wo + n + i);
            a10 = w1.fma(x0, a10);
            a11 = w1.fma(x1, a11);
            a12 = w1.fma(x2, a12);
            a13 = w1.fma(x3, a13);
            FloatVector w2 = FloatVector.fromArray(F, w, wo + 2 * n + i);
            a20 = w2.fma(x0, a20);
            a21 = w2.fma(x1, a21);
            a22 = w2.fma(x2, a22);
            a23 = w2.fma(x3, a23);
            FloatVector w3 = FloatVector.fromArray(F, w, wo + 3 * n + i);
            a30 = w3.fma(x0, a30);
            a31 = w3.fma(x1, a31);
            a32 = w3.fma(x2, a32);
            a33 = w3.fma(x3, a33);
        }
        out[o] = a00.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a20.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a30.reduceLanes(VectorOperators.ADD);
        out[o + outStride] = a01.reduceLanes(VectorOperators.ADD);
        out[o + outStride + 1] = a11.reduceLanes(VectorOperators.ADD);
        out[o + outStride + 2] = a21.reduceLanes(VectorOperators.ADD);
        out[o + outStride + 3] = a31.reduceLanes(VectorOperators.ADD);
        out[o + 2 * outStride] = a02.reduceLanes(VectorOperators.ADD);
        out[o + 2 * outStride + 1] = a12.reduceLanes(VectorOperators.ADD);
        out[o + 2 * outStride + 2] = a22.reduceLanes(VectorOperators.ADD);
        out[o + 2 * outStride + 3] = a32.reduceLanes(VectorOperators.ADD);
        out[o + 3 * outStride] = a03.reduceLanes(VectorOperators.ADD);
        out[o + 3 * outStride + 1] = a13.reduceLanes(VectorOperators.ADD);
        out[o + 3 * outStride + 2] = a23.reduceLanes(VectorOperators.ADD);
        out[o + 3 * outStride + 3] = a33.reduceLanes(VectorOperators.ADD);
    }

    // ---- dequantization into float[] (bitwise equal to ScalarKernels) -----------------------------

    static void dequantize(GgmlType type, MemorySegment seg, long off, int n, float[] out, int o) {
        switch (type) {
            case F32 -> {
                int i = 0;
                for (; i <= n - L; i += L) {
                    FloatVector.fromMemorySegment(F, seg, off + 4L * i, LE).intoArray(out, o + i);
                }
                ScalarKernels.dequantize(type, seg, off + 4L * i, n - i, out, o + i);
            }
            case F16 -> {
                if (Halves.AUTOVECTORIZE) {
                    halvesToFloats(seg, off, out, o, n);
                } else {
                    dequantizeF16(seg, off, n, out, o);
                }
            }
            case BF16 -> dequantizeBF16(seg, off, n, out, o);
            case Q8_0 -> dequantizeQ80(seg, off, n, out, o);
            case Q4_0 -> dequantizeQ40(seg, off, n, out, o);
            case Q4_K -> {
                for (int blk = 0; blk < n / 256; blk++) {
                    dequantizeQ4KBlock(seg, off + blk * 144L, out, o + blk * 256);
                }
            }
            case Q6_K -> {
                MemorySegment quants = Q6K_QUANTS.get();
                for (int blk = 0; blk < n / 256; blk++) {
                    dequantizeQ6KBlock(seg, off + blk * 210L, out, o + blk * 256, quants);
                }
            }
        }
    }

    /**
     * q * d per element. The widening load is written out rather than taken from {@link #bytes}:
     * inside the large dequantize switch C2 left that call out of line and boxed every vector
     * (VectorKernelsAllocationTest).
     */
    private static void dequantizeQ80(MemorySegment seg, long off, int n, float[] out, int o) {
        if (WIDE) {
            // a block is two vectors: written out, 10-15% faster than the loop below (in L2 and from DRAM)
            for (int blk = 0; blk < n / 32; blk++) {
                long b = off + blk * 34L;
                int y = o + blk * 32;
                FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(seg.get(ScalarKernels.SHORT_LE, b)));
                ((FloatVector) ByteVector.fromMemorySegment(B, seg, b + 2, LE).convertShape(VectorOperators.B2F, F, 0))
                        .mul(d).intoArray(out, y);
                ((FloatVector) ByteVector.fromMemorySegment(B, seg, b + 18, LE).convertShape(VectorOperators.B2F, F, 0))
                        .mul(d).intoArray(out, y + 16);
            }
            return;
        }
        for (int blk = 0; blk < n / 32; blk++) {
            long b = off + blk * 34L;
            float d = f16(seg, b);
            for (int k = 0; k < 32; k += L) {
                ((FloatVector) ByteVector.fromMemorySegment(B, seg, b + 2 + k, LE).convertShape(VectorOperators.B2F, F, 0))
                        .mul(d).intoArray(out, o + blk * 32 + k);
            }
        }
    }

    /*
     * The dequantize loops below spell their widening loads out instead of calling bytes(),
     * ubytes(), f16v() or bf16(): under the prefill path C2 sometimes left those calls out of line
     * and boxed every vector they returned (hundreds of KB per matmul, several times slower;
     * VectorKernelsAllocationTest catches it).
     */

    private static void dequantizeF16(MemorySegment seg, long off, int n, float[] out, int o) {
        IntVector keep = IntVector.broadcast(I, HALF_KEEP);
        IntVector exponent = IntVector.broadcast(I, HALF_EXPONENT);
        IntVector infExponent = IntVector.broadcast(I, 0x7F800000);
        FloatVector rebias = FloatVector.broadcast(F, 0x1p112f);
        int i = 0;
        for (; i <= n - L; i += L) {
            IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector t = h.lanewise(VectorOperators.LSHL, 13);
            IntVector bits = t.and(keep).reinterpretAsFloats().mul(rebias).reinterpretAsInts();
            VectorMask<Integer> infOrNan = t.and(exponent).compare(VectorOperators.EQ, exponent);
            bits.lanewise(VectorOperators.OR, infExponent, infOrNan).reinterpretAsFloats().intoArray(out, o + i);
        }
        ScalarKernels.dequantize(GgmlType.F16, seg, off + 2L * i, n - i, out, o + i);
    }

    private static void dequantizeBF16(MemorySegment seg, long off, int n, float[] out, int o) {
        int i = 0;
        for (; i <= n - L; i += L) {
            ((IntVector) ShortVector.fromMemorySegment(S, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(out, o + i);
        }
        ScalarKernels.dequantize(GgmlType.BF16, seg, off + 2L * i, n - i, out, o + i);
    }

    private static void dequantizeQ40(MemorySegment seg, long off, int n, float[] out, int o) {
        IntVector lowMask = IntVector.broadcast(I, 0xF);
        IntVector bias = IntVector.broadcast(I, 8);
        for (int blk = 0; blk < n / 32; blk++) {
            long b = off + blk * 18L;
            float d = f16(seg, b);
            int y = o + blk * 32;
            for (int k = 0; k < 16; k += L) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, seg, b + 2 + k, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                ((FloatVector) q.and(lowMask).sub(bias).convertShape(VectorOperators.I2F, F, 0)).mul(d).intoArray(out, y + k);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub(bias).convertShape(VectorOperators.I2F, F, 0))
                        .mul(d).intoArray(out, y + 16 + k);
            }
        }
    }

    /** d1 * q - m1 with d1 = d * sc and m1 = dmin * m, as ggml (two roundings, no FMA). */
    private static void dequantizeQ4KBlock(MemorySegment seg, long b, float[] out, int y) {
        IntVector lowMask = IntVector.broadcast(I, 0xF);
        float d = f16(seg, b);
        float dmin = f16(seg, b + 2);
        long scales = seg.get(LONG_LE, b + 4);
        int scalesHigh = seg.get(INT_LE, b + 12);
        for (int c = 0; c < 4; c++) {
            int p1 = scaleMinK4(2 * c, scales, scalesHigh);
            int p2 = scaleMinK4(2 * c + 1, scales, scalesHigh);
            float d1 = d * (p1 & 0xFF);
            float m1 = dmin * (p1 >>> 8);
            float d2 = d * (p2 & 0xFF);
            float m2 = dmin * (p2 >>> 8);
            for (int k = 0; k < 32; k += L) {
                IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, seg, b + 16 + 32L * c + k, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                ((FloatVector) qb.and(lowMask).convertShape(VectorOperators.I2F, F, 0)).mul(d1).sub(m1)
                        .intoArray(out, y + 64 * c + k);
                ((FloatVector) qb.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0)).mul(d2).sub(m2)
                        .intoArray(out, y + 64 * c + 32 + k);
            }
        }
    }

    /** (d * sc) * (q - 32), ggml's order of the two roundings (q - 32 is exact in float). */
    private static void dequantizeQ6KBlock(MemorySegment seg, long b, float[] out, int o, MemorySegment quants) {
        unpackQ6K(seg, b, quants);
        float d = f16(seg, b + 208);
        FloatVector bias = FloatVector.broadcast(F, 32f);
        for (int e = 0; e < 256; e += L) {
            ((FloatVector) ByteVector.fromMemorySegment(B, quants, e, LE).convertShape(VectorOperators.B2F, F, 0))
                    .sub(bias).mul(d * i8(seg, b + 192 + e / 16)).intoArray(out, o + e);
        }
    }

    // ---- widening loads ----------------------------------------------------------------------------

    /**
     * ggml get_scale_min_k4 on the 12 scale bytes already loaded as a little-endian long (bytes
     * 0-7) and int (bytes 8-11); returns {@code scale | min << 8} like
     * {@link ScalarKernels#scaleMinK4}.
     */
    static int scaleMinK4(int j, long lo, int hi) {
        if (j < 4) {
            return (int) (lo >>> 8 * j) & 63 | ((int) (lo >>> 8 * (j + 4)) & 63) << 8;
        }
        int b = hi >>> 8 * (j - 4) & 0xFF;                // byte j + 4
        int sc = b & 0xF | ((int) (lo >>> 8 * (j - 4)) & 0xC0) >>> 2;
        int m = b >>> 4 | ((int) (lo >>> 8 * j) & 0xC0) >>> 2;
        return sc | m << 8;
    }

    private static byte i8(MemorySegment seg, long off) {
        return seg.get(ValueLayout.JAVA_BYTE, off);
    }

    /** L signed bytes at {@code off} as floats. */
    private static FloatVector bytes(MemorySegment seg, long off) {
        return toFloats(ByteVector.fromMemorySegment(B, seg, off, LE));
    }

    /** L unsigned bytes at {@code off} as ints (vpmovzxbd): nibble and bit fields are cut in 32-bit lanes, where AVX2 has shifts. */
    private static IntVector ubytes(MemorySegment seg, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B, seg, off, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector toFloats(IntVector v) {
        return (FloatVector) v.convertShape(VectorOperators.I2F, F, 0);
    }

    private static FloatVector toFloats(ByteVector v) {
        return (FloatVector) v.convertShape(VectorOperators.B2F, F, 0);
    }

    /** L bfloat16 values at {@code off}: each is the upper half of a float32. */
    private static FloatVector bf16(MemorySegment seg, long off) {
        ShortVector s = ShortVector.fromMemorySegment(S, seg, off, LE);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /**
     * L IEEE half floats at {@code off}, exactly (after F. Giesen's half_to_float). Shifted left by
     * 13, a sign-extended half has its sign at bit 31 and exponent and mantissa where a float's
     * low exponent bits and mantissa sit; masking off the rest and multiplying by 2^112 rebiases
     * normals and normalises subnormals in one exact multiply. Exponent 31 (inf, NaN) instead gets
     * float exponent 255. The constant vectors come from the caller, made once per row.
     */
    private static FloatVector f16v(MemorySegment seg, long off, IntVector keep, IntVector exponent,
                                    IntVector infExponent, FloatVector rebias) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, off, LE).convertShape(VectorOperators.S2I, I, 0);
        IntVector t = h.lanewise(VectorOperators.LSHL, 13);
        IntVector bits = t.and(keep).reinterpretAsFloats().mul(rebias).reinterpretAsInts();
        VectorMask<Integer> infOrNan = t.and(exponent).compare(VectorOperators.EQ, exponent);
        return bits.lanewise(VectorOperators.OR, infExponent, infOrNan).reinterpretAsFloats();
    }
}
