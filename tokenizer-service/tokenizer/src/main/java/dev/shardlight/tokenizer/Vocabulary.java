package dev.shardlight.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Id ↔ piece, each piece's type, and the bytes each id decodes to. Pieces are stored as the model
 * spells them (Gemma: SentencePiece text with ▁ for space; Llama 3: GPT-2 byte-level characters).
 */
final class Vocabulary {
    /** How pieces turn back into text: the two decoder chains of the supported tokenizer.json files. */
    enum Decoding {
        /** Replace ▁ → space, ByteFallback ({@code <0xXX>} runs), Fuse: Gemma's decoder. */
        SENTENCEPIECE,
        /** ByteLevel: each character stands for one byte; Llama 3's decoder. */
        BYTE_LEVEL
    }

    private final String[] pieces;
    private final TokenType[] types;
    private final boolean[] special;
    private final Decoding decoding;
    /** Built on first use: Gemma's encoder never needs it, so loading does not pay for it. */
    private volatile PieceIndex index;

    Vocabulary(String[] pieces, TokenType[] types, boolean[] special, Decoding decoding) {
        this.pieces = pieces;
        this.types = types;
        this.special = special;
        this.decoding = decoding;
    }

    /** The byte a {@code <0xXX>} piece stands for (tokenizers' ByteFallback accepts either hex case), else -1. */
    static int byteFallbackValue(String p) {
        if (p.length() != 6 || !p.startsWith("<0x") || p.charAt(5) != '>') {
            return -1;
        }
        int hi = Character.digit(p.charAt(3), 16);
        int lo = Character.digit(p.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    int size() {
        return pieces.length;
    }

    String piece(int id) {
        return pieces[id];
    }

    TokenType type(int id) {
        return types[id];
    }

    boolean isSpecial(int id) {
        return special[id];
    }

    int id(String piece) {
        return index().get(piece);
    }

    /** The lowest id spelled {@code piece}, by a linear scan: for a few look-ups while loading. */
    int idByScan(String piece) {
        for (int id = 0; id < pieces.length; id++) {
            if (piece.equals(pieces[id])) {
                return id;
            }
        }
        return -1;
    }

    PieceIndex index() {
        PieceIndex i = index;
        if (i == null) {
            synchronized (this) {
                i = index;
                if (i == null) {
                    index = i = new PieceIndex(pieces);
                }
            }
        }
        return i;
    }

    Decoding decoding() {
        return decoding;
    }

    /** The bytes {@code id} decodes to (a byte-fallback piece: its one byte). */
    byte[] bytes(int id) {
        String p = pieces[id] == null ? "" : pieces[id];
        if (decoding == Decoding.BYTE_LEVEL) {
            return ByteLevel.bytesOf(p);
        }
        int b = byteFallbackValue(p);
        return b >= 0 ? new byte[] {(byte) b} : p.replace('\u2581', ' ').getBytes(StandardCharsets.UTF_8);
    }

    /** Whether {@code id} is a byte-fallback piece ({@code <0xXX>}), whose runs decode together. */
    boolean isFallbackByte(int id) {
        return decoding == Decoding.SENTENCEPIECE && pieces[id] != null && byteFallbackValue(pieces[id]) >= 0;
    }

    boolean contains(int id) {
        return id >= 0 && id < pieces.length;
    }
}
