package dev.shardlight.tokenizer;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Bounded memo of word → ids (tokenizers keeps one per BPE model too). Words repeat heavily in
 * natural text, so most pre-tokens skip the merge loop. Cleared wholesale when full: cheaper than
 * LRU bookkeeping on every hit, and safe for concurrent encoders.
 */
final class WordCache {
    static final int MAX_WORD_CHARS = 64;
    /** Entries kept before the cache is cleared; {@code -Dshardlight.tokenizer.wordCache=0} turns it off (benchmarks). */
    private static final int CAPACITY = Integer.getInteger("shardlight.tokenizer.wordCache", 65_536);

    private final ConcurrentHashMap<String, int[]> map = new ConcurrentHashMap<>(1024);

    int[] get(String word) {
        return CAPACITY == 0 ? null : map.get(word);
    }

    void put(String word, int[] ids) {
        if (CAPACITY == 0) {
            return;
        }
        if (map.size() >= CAPACITY) {
            map.clear();
        }
        map.put(word, ids);
    }
}
