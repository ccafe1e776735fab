package dev.shardlight.tokenizer;

/**
 * Piece text → token id, open addressing over plain arrays. A 262k-piece vocabulary costs two
 * arrays of 2^19 slots instead of a HashMap's boxed entries, and lookups can be made from a
 * {@code char[]} slice so the encoder need not allocate a String per word.
 */
final class PieceIndex {
    private final String[] keys;
    private final int[] ids;
    private final int mask;

    PieceIndex(String[] pieces) {
        int cap = Integer.highestOneBit(Math.max(16, pieces.length * 2 - 1)) << 1;
        keys = new String[cap];
        ids = new int[cap];
        mask = cap - 1;
        for (int id = 0; id < pieces.length; id++) {
            String p = pieces[id];
            if (p == null) {
                continue;
            }
            int slot = mix(p.hashCode()) & mask;
            while (keys[slot] != null && !keys[slot].equals(p)) {
                slot = (slot + 1) & mask;
            }
            if (keys[slot] == null) {
                // The first id wins, as in tokenizers' vocab (a duplicate piece keeps its lower id).
                keys[slot] = p;
                ids[slot] = id;
            }
        }
    }

    /** The id of {@code piece}, or -1. */
    int get(String piece) {
        int slot = mix(piece.hashCode()) & mask;
        String k;
        while ((k = keys[slot]) != null) {
            if (k.equals(piece)) {
                return ids[slot];
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    /** The id of the piece {@code a + b}, without building that string, or -1. */
    int getConcatenation(String a, String b) {
        int h = a.hashCode();
        for (int i = 0, n = b.length(); i < n; i++) {
            h = 31 * h + b.charAt(i);
        }
        int len = a.length() + b.length();
        int slot = mix(h) & mask;
        String k;
        while ((k = keys[slot]) != null) {
            if (k.length() == len && k.startsWith(a) && k.startsWith(b, a.length())) {
                return ids[slot];
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    /** The id of the piece spelled by {@code chars[from, to)}, or -1. */
    int get(char[] chars, int from, int to) {
        int h = 0;
        for (int i = from; i < to; i++) {
            h = 31 * h + chars[i];
        }
        return get(chars, from, to, h);
    }

    /** As {@link #get(char[], int, int)}, given that slice's {@link String#hashCode()}. */
    int get(char[] chars, int from, int to, int h) {
        int len = to - from;
        int slot = mix(h) & mask;
        String k;
        while ((k = keys[slot]) != null) {
            if (k.length() == len && sameChars(k, chars, from)) {
                return ids[slot];
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    private static boolean sameChars(String k, char[] chars, int from) {
        for (int i = 0, n = k.length(); i < n; i++) {
            if (k.charAt(i) != chars[from + i]) {
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
