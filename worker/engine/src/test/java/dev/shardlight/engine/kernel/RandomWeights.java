package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Weight matrices of random but valid blocks: quantized bits are uniform, block scales are sane
 * finite f16 values of the size real checkpoints have, so dequantized weights stay in the range
 * where float32 sums are comparable across implementations.
 */
final class RandomWeights {

    private static final ValueLayout.OfShort SHORT_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RandomWeights() {
    }

    static WeightMatrix matrix(Arena arena, GgmlType type, int rows, int cols, long seed) {
        MemorySegment data = arena.allocate(rows * type.bytesFor(cols), 64);
        fill(type, data, new Random(seed));
        return new WeightMatrix(type + "-" + rows + "x" + cols, type, rows, cols, data);
    }

    /** Fills a whole segment with random blocks of {@code type}. */
    static void fill(GgmlType type, MemorySegment data, Random rnd) {
        long blocks = data.byteSize() / type.blockBytes;
        for (long i = 0; i < blocks; i++) {
            long b = i * type.blockBytes;
            switch (type) {
                case F32 -> data.set(FLOAT_LE, b, weight(rnd));
                case F16 -> data.set(SHORT_LE, b, Float.floatToFloat16(weight(rnd)));
                case BF16 -> data.set(SHORT_LE, b, (short) (Float.floatToRawIntBits(weight(rnd)) >>> 16));
                case Q8_0, Q4_0 -> {
                    randomBytes(data, b + 2, type.blockBytes - 2, rnd);
                    data.set(SHORT_LE, b, f16(0.002f + 0.01f * rnd.nextFloat(), rnd));
                }
                case Q4_K -> {
                    randomBytes(data, b + 4, type.blockBytes - 4, rnd);
                    data.set(SHORT_LE, b, f16(0.0005f + 0.002f * rnd.nextFloat(), rnd));
                    // dmin is positive in real files (mins are subtracted); keep it so here.
                    data.set(SHORT_LE, b + 2, Float.floatToFloat16(0.0002f + 0.002f * rnd.nextFloat()));
                }
                case Q6_K -> {
                    randomBytes(data, b, 208, rnd);
                    data.set(SHORT_LE, b + 208, f16(0.0002f + 0.001f * rnd.nextFloat(), rnd));
                }
            }
        }
    }

    /** Random activations in [-2, 2). */
    static float[] activations(int n, long seed) {
        Random rnd = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextFloat() * 4f - 2f;
        }
        return v;
    }

    private static float weight(Random rnd) {
        return (float) (rnd.nextGaussian() * 0.05);
    }

    private static short f16(float magnitude, Random rnd) {
        return Float.floatToFloat16(rnd.nextBoolean() ? magnitude : -magnitude);
    }

    private static void randomBytes(MemorySegment data, long offset, int n, Random rnd) {
        byte[] bytes = new byte[n];
        rnd.nextBytes(bytes);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, data, offset, n);
    }
}
