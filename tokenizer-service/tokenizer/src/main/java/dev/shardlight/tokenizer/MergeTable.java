package dev.shardlight.tokenizer;

/**
 * BPE merge rules: (left id, right id) → (rank, merged id), open addressing over primitive arrays
 * (515k Gemma merges take ~16 MB instead of a HashMap's ~60 MB). Lower rank merges first, as in
 * tokenizers' {@code BPE::merges} and tiktoken's ranks.
 */
final class MergeTable {
    static final int NONE = Integer.MAX_VALUE;

    private final long[] keys;
    private final int[] ranks;
    private final int[] merged;
    private final int mask;
    private int size;

    MergeTable(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[cap];
        java.util.Arrays.fill(keys, -1L);
        ranks = new int[cap];
        merged = new int[cap];
        mask = cap - 1;
    }

    /** Adds a rule; a pair seen again keeps its later rank, as tokenizers' merge map does. */
    void put(int left, int right, int rank, int mergedId) {
        long key = key(left, right);
        int slot = slot(key);
        while (keys[slot] != -1L && keys[slot] != key) {
            slot = (slot + 1) & mask;
        }
        if (keys[slot] == -1L) {
            if (++size * 2 > keys.length) {
                throw new IllegalStateException("merge table over capacity");
            }
        }
        keys[slot] = key;
        ranks[slot] = rank;
        merged[slot] = mergedId;
    }

    /** Slot of the rule for (left, right), or -1. */
    int find(int left, int right) {
        long key = key(left, right);
        int slot = slot(key);
        long k;
        while ((k = keys[slot]) != -1L) {
            if (k == key) {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    /** Rank of the rule for (left, right), or {@link #NONE}. */
    int rank(int left, int right) {
        int s = find(left, right);
        return s < 0 ? NONE : ranks[s];
    }

    int rankAt(int slot) {
        return ranks[slot];
    }

    int mergedAt(int slot) {
        return merged[slot];
    }

    int size() {
        return size;
    }

    /** Visits every rule (order unspecified). */
    void forEach(RuleVisitor visitor) {
        for (int slot = 0; slot < keys.length; slot++) {
            if (keys[slot] != -1L) {
                visitor.visit((int) (keys[slot] >>> 32), (int) keys[slot], ranks[slot], merged[slot]);
            }
        }
    }

    interface RuleVisitor {
        void visit(int left, int right, int rank, int merged);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }
}
