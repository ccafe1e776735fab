package dev.shardlight.engine.model;

import dev.shardlight.engine.tensor.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Reads small 1-D tensors (norm weights, RoPE divisors) into float32 arrays. */
final class TensorVectors {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TensorVectors() {
    }

    static float[] read(String name, GgmlType type, MemorySegment data, int n) {
        float[] out = new float[n];
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = data.get(F32, 4L * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(data.get(I16, 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((data.get(I16, 2L * i) & 0xFFFF) << 16);
                }
            }
            default -> throw new dev.shardlight.engine.format.ModelFormatException(
                    "1-D tensor " + name + " is stored as " + type + "; expected F32, F16 or BF16");
        }
        return out;
    }
}
