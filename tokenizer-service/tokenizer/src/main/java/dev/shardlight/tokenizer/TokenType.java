package dev.shardlight.tokenizer;

/**
 * Kinds of vocabulary entries, numbered as GGUF's {@code tokenizer.ggml.token_type} numbers them
 * (llama.cpp gguf-py constants: 1 normal … 6 byte).
 */
public enum TokenType {
    NORMAL(1),
    UNKNOWN(2),
    /** Control tokens (BOS, turn markers, …): only a trusted caller or a chat template may produce them. */
    CONTROL(3),
    /** Pieces matched atomically in text (Gemma's "\n\n", "<table>", runs of ▁); never control. */
    USER_DEFINED(4),
    UNUSED(5),
    /** SentencePiece byte-fallback pieces {@code <0xXX>}. */
    BYTE(6);

    private final int ggufCode;

    TokenType(int ggufCode) {
        this.ggufCode = ggufCode;
    }

    public int ggufCode() {
        return ggufCode;
    }

    public static TokenType fromGgufCode(long code) {
        for (TokenType t : values()) {
            if (t.ggufCode == code) {
                return t;
            }
        }
        throw new TokenizerFormatException("tokenizer.ggml.token_type holds " + code + ", which is no GGUF token type (1-6)");
    }
}
