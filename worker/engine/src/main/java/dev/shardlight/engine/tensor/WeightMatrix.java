package dev.shardlight.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows} rows with {@code cols} inputs each (Hugging Face's
 * [out_features, in_features]; GGUF dims [cols, rows]), stored row after row in {@code type}
 * inside {@code data}, which is usually a slice of a memory-mapped model file: weights are never
 * copied onto the Java heap.
 */
public record WeightMatrix(String name, GgmlType type, int rows, int cols, MemorySegment data) {

    public WeightMatrix {
        long need = (long) rows * type.bytesFor(cols);
        if (data.byteSize() != need) {
            throw new IllegalArgumentException(name + ": " + type + " [" + rows + " x " + cols + "] needs "
                    + need + " bytes, segment has " + data.byteSize());
        }
    }

    public long rowBytes() {
        return type.bytesFor(cols);
    }

    /** Byte offset of row {@code r} inside {@link #data}. */
    public long rowOffset(int r) {
        return r * rowBytes();
    }
}
