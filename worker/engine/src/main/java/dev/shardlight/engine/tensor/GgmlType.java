package dev.shardlight.engine.tensor;

/**
 * Weight storage types the engine reads in place, with ggml's type ids and block layouts
 * (ggml/src/ggml-common.h). A block holds {@link #blockSize} consecutive elements of a row in
 * {@link #blockBytes} bytes; rows are whole numbers of blocks.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    /** f16 d; u8 qs[16]: element j = ((qs[j] & 0xF) - 8) * d, element j+16 = ((qs[j] >> 4) - 8) * d. */
    Q4_0(2, 32, 18),
    /** f16 d; i8 qs[32]: element j = qs[j] * d. */
    Q8_0(8, 32, 34),
    /** f16 d; f16 dmin; u8 scales[12]; u8 qs[128] (6-bit packed scales and mins per 32 elements). */
    Q4_K(12, 256, 144),
    /** u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d (d is last). */
    Q6_K(14, 256, 210),
    BF16(30, 1, 2);

    public final int id;
    public final int blockSize;
    public final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Bytes taken by {@code elements} values; elements must be a multiple of the block size. */
    public long bytesFor(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(name() + " stores whole blocks of " + blockSize
                    + " elements; " + elements + " is not a multiple");
        }
        return elements / blockSize * blockBytes;
    }

    public static GgmlType fromId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        return null;
    }
}
