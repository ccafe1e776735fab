package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;

/**
 * How the weights of a GGUF are stored, named and numbered as llama.cpp's {@code llama_ftype}
 * ({@code general.file_type}). 1-D tensors (norms, rope_freqs) are always F32, as the converter
 * writes them. The plain types are "pure" (every 2-D weight in that type, like
 * {@code llama-quantize --pure}); {@link #Q4_K_M} is llama.cpp's default Q4_K_M mix.
 */
public enum GgufFileType {
    F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    Q4_0(2, GgmlType.Q4_0),
    Q8_0(7, GgmlType.Q8_0),
    /** Pure Q4_K; llama.cpp numbers it as its closest mix, MOSTLY_Q4_K_S. */
    Q4_K(14, GgmlType.Q4_K),
    /**
     * llama_tensor_get_type for MOSTLY_Q4_K_M: Q4_K, except Q6_K for the tied token_embd (it is
     * the output matrix) and for attn_v and ffn_down on the layers {@link #useMoreBits} picks.
     */
    Q4_K_M(15, GgmlType.Q4_K),
    Q6_K(18, GgmlType.Q6_K),
    BF16(32, GgmlType.BF16);

    /** general.file_type. */
    public final int id;
    public final GgmlType base;

    GgufFileType(int id, GgmlType base) {
        this.id = id;
        this.base = base;
    }

    /** The storage type of a 2-D weight of that name and row length, on layer {@code layer} of {@code layers}. */
    public GgmlType typeFor(String ggufName, long rowLength, int layer, int layers) {
        GgmlType t = base;
        if (this == Q4_K_M) {
            boolean moreBits = (ggufName.endsWith("attn_v.weight") || ggufName.endsWith("ffn_down.weight"))
                    && useMoreBits(layer, layers);
            if (ggufName.equals("token_embd.weight") || moreBits) {
                t = GgmlType.Q6_K;
            }
        }
        if (rowLength % t.blockSize != 0) {
            // tensor_type_fallback: Q6_K -> Q8_0; llama.cpp's Q4_K -> Q5_0 is not a type the
            // engine reads, so Q8_0 stands in for it too.
            t = rowLength % GgmlType.Q8_0.blockSize == 0 ? GgmlType.Q8_0 : GgmlType.F16;
        }
        return t;
    }

    /** llama-quant.cpp use_more_bits: the first and last eighth of the layers and every third between. */
    static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    public static GgufFileType parse(String name) {
        try {
            return valueOf(name.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown GGUF weight type " + name + "; known: "
                    + java.util.Arrays.toString(values()), e);
        }
    }
}
