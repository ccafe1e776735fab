package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * The bytes of one tensor, produced row by row on demand so that writers can stream a model to
 * disk without holding it in memory. A row is the fastest-varying dimension: GGUF {@code ne[0]},
 * the last dimension of a safetensors shape (for a weight matrix, one output's inputs).
 *
 * <p>Writers call {@link #encodeRows} from several threads at once for disjoint row ranges, so an
 * implementation must be a pure function of the rows asked for.
 */
@FunctionalInterface
public interface TensorData {

    /** Writes rows [firstRow, firstRow + rowCount), encoded, into {@code dst}, which is exactly their size. */
    void encodeRows(long firstRow, int rowCount, MemorySegment dst);

    /** The float values of one row. */
    @FunctionalInterface
    interface FloatRows {
        void fill(long row, float[] dst);
    }

    /** Rows of {@code rowLength} floats, encoded as {@code type} with {@link Quantizer}. */
    static TensorData encoded(GgmlType type, int rowLength, FloatRows rows) {
        long rowBytes = type.bytesFor(rowLength);
        return (firstRow, rowCount, dst) -> {
            float[] row = new float[rowLength];
            for (int r = 0; r < rowCount; r++) {
                rows.fill(firstRow + r, row);
                Quantizer.encode(type, row, 0, rowLength, dst, r * rowBytes);
            }
        };
    }

    /** Bytes already in memory (small tensors, tests): rows of {@code rowBytes} bytes of {@code bytes}. */
    static TensorData ofBytes(MemorySegment bytes, long rowBytes) {
        return (firstRow, rowCount, dst) -> MemorySegment.copy(bytes, firstRow * rowBytes, dst, 0, rowCount * rowBytes);
    }
}
