package dev.shardlight.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Piece UTF-8 bytes → id, used only while loading: tokenizer.json names each merge by the text of
 * its two halves, and looking those up straight from the file's bytes avoids two Strings, a
 * concatenation and three String hashes per merge (515k merges for Gemma). Loading is bound by
 * cache misses here, so each slot packs the piece's arena offset, length and id into one long:
 * a lookup touches the slot and the piece's bytes, nothing else.
 */
final class Utf8PieceIndex {
    private static final int ID_BITS = 21;
    private static final int LEN_BITS = 11;
    private static final long EMPTY = -1L;

    private final byte[] arena;
    private final long[] slots;
    private final int mask;

    Utf8PieceIndex(String[] pieces) {
        if (pieces.length >= (1 << ID_BITS)) {
            throw new TokenizerFormatException("vocabulary of " + pieces.length + " pieces is too large");
        }
        byte[][] utf8 = new byte[pieces.length][];
        int total = 0;
        for (int i = 0; i < pieces.length; i++) {
            if (pieces[i] != null) {
                utf8[i] = pieces[i].getBytes(StandardCharsets.UTF_8);
                total += utf8[i].length;
            }
        }
        arena = new byte[total];
        int cap = Integer.highestOneBit(Math.max(16, pieces.length * 2 - 1)) << 1;
        slots = new long[cap];
        java.util.Arrays.fill(slots, EMPTY);
        mask = cap - 1;
        int at = 0;
        for (int id = 0; id < pieces.length; id++) {
            byte[] b = utf8[id];
            if (b == null) {
                continue;
            }
            if (b.length >= (1 << LEN_BITS)) {
                throw new TokenizerFormatException("piece " + id + " is " + b.length + " bytes long");
            }
            System.arraycopy(b, 0, arena, at, b.length);
            int slot = mix(hash(b, 0, b.length, 0)) & mask;
            while (slots[slot] != EMPTY && !matches(slots[slot], b, 0, b.length)) {
                slot = (slot + 1) & mask;
            }
            if (slots[slot] == EMPTY) {
                slots[slot] = ((long) at << (ID_BITS + LEN_BITS)) | ((long) b.length << ID_BITS) | id;
            }
            at += b.length;
        }
    }

    static int hash(byte[] b, int from, int to, int h) {
        for (int i = from; i < to; i++) {
            h = 31 * h + b[i];
        }
        return h;
    }

    /** Id of the piece whose UTF-8 is {@code b[from, to)}, or -1. */
    int get(byte[] b, int from, int to) {
        int slot = mix(hash(b, from, to, 0)) & mask;
        long s;
        while ((s = slots[slot]) != EMPTY) {
            if (matches(s, b, from, to - from)) {
                return (int) (s & ((1 << ID_BITS) - 1));
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    /** Id of the piece whose UTF-8 is {@code b[aFrom, aTo)} followed by {@code b[bFrom, bTo)}, or -1. */
    int getConcatenation(byte[] b, int aFrom, int aTo, int bFrom, int bTo) {
        int slot = mix(hash(b, bFrom, bTo, hash(b, aFrom, aTo, 0))) & mask;
        int aLen = aTo - aFrom;
        int bLen = bTo - bFrom;
        long s;
        while ((s = slots[slot]) != EMPTY) {
            if (length(s) == aLen + bLen) {
                int off = offset(s);
                if (equal(arena, off, b, aFrom, aLen) && equal(arena, off + aLen, b, bFrom, bLen)) {
                    return (int) (s & ((1 << ID_BITS) - 1));
                }
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    private boolean matches(long s, byte[] b, int from, int len) {
        return length(s) == len && equal(arena, offset(s), b, from, len);
    }

    private static int length(long s) {
        return (int) (s >>> ID_BITS) & ((1 << LEN_BITS) - 1);
    }

    private static int offset(long s) {
        return (int) (s >>> (ID_BITS + LEN_BITS));
    }

    private static boolean equal(byte[] x, int xFrom, byte[] y, int yFrom, int len) {
        for (int i = 0; i < len; i++) {
            if (x[xFrom + i] != y[yFrom + i]) {
                return false;
            }
        }
        return true;
    }

    private static int mix(int h) {
        h *= 0x9E3779B1;
        return h ^ (h >>> 15);
    }
}
