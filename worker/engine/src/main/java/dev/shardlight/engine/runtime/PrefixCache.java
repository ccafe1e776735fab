package dev.shardlight.engine.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Full KV blocks of earlier sequences, found again by their tokens: block i of a sequence is keyed
 * by a hash chained over the partition seed, block i-1's key and the block's token ids, so a key
 * stands for the whole prefix up to the end of that block. A hit hands the matching sequence the
 * very blocks (all layers) to share; it then computes only the rest of its prompt.
 *
 * <p>The partition seed is the tenant's (by default) so one tenant's timing can't reveal another's
 * prompts; a shared seed makes the cache global. Entries in use by a sequence are pinned; unused
 * ones are evicted least recently used first when the {@link KvBlockPool} runs out. A lookup
 * touches the chain's entries from the last to the first, so a chain is evicted from its tail and
 * a surviving entry's ancestors survive with it. Keys are verified against the stored parent key
 * and token ids, so a hash collision can only cost a miss. Single-threaded, like the pool.
 */
public final class PrefixCache {
    /** One cached block of a prefix: per layer, the physical KV block (-1 never appears here). */
    static final class Entry {
        final long key;
        final long parent;
        final int[] tokens;
        final int[] blocks;
        int users;

        Entry(long key, long parent, int[] tokens, int[] blocks) {
            this.key = key;
            this.parent = parent;
            this.tokens = tokens;
            this.blocks = blocks;
        }
    }

    private final KvBlockPool pool;
    private final LinkedHashMap<Long, Entry> entries = new LinkedHashMap<>(256, 0.75f, true);
    private int evictableBlocks;
    private long queriedTokens;
    private long hitTokens;

    public PrefixCache(KvBlockPool pool) {
        this.pool = pool;
        pool.evictWith(this);
    }

    /** The chain's starting key for a partition (a tenant id, or null for the shared partition). */
    public static long seed(String partition) {
        return partition == null ? 0x5EED_0000_0000_0001L : mix(0x5EED_0000_0000_0002L ^ partition.hashCode() * 31L
                + partition.length());
    }

    static long key(long parent, int[] tokens, int offset, int count) {
        long h = mix(parent + 0x9E3779B97F4A7C15L);
        for (int i = 0; i < count; i++) {
            h = mix(h ^ (tokens[offset + i] & 0xFFFFFFFFL) * 0xC2B2AE3D27D4EB4FL);
        }
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }

    /**
     * The longest run of cached blocks that starts {@code tokens[0 .. limit)}, each now used by the
     * caller (release them with {@link #unuse}). Counts {@code limit} rounded down to whole blocks as
     * queried, and the matched positions as hits.
     */
    List<Entry> match(long seed, int[] tokens, int limit) {
        int b = pool.blockSize();
        List<Entry> found = new ArrayList<>();
        long parent = seed;
        for (int start = 0; start + b <= limit; start += b) {
            long k = key(parent, tokens, start, b);
            Entry e = entries.get(k);
            if (e == null || e.parent != parent || !Arrays.equals(e.tokens, 0, b, tokens, start, start + b)) {
                break;
            }
            found.add(e);
            parent = k;
        }
        queriedTokens += (long) (limit / b) * b;
        hitTokens += (long) found.size() * b;
        for (int i = found.size() - 1; i >= 0; i--) {
            Entry e = found.get(i);
            entries.get(e.key); // access order: the chain's head ends up most recent
            use(e);
        }
        return found;
    }

    /**
     * Caches a just-completed block (per layer physical blocks, which gain one reference each) and
     * makes the caller a user of it; returns the entry, or the one already cached under that key
     * (then the caller's blocks stay its own and it does not use the existing entry), or null.
     */
    Entry insert(long parent, int[] tokens, int offset, int[] blocks) {
        int b = pool.blockSize();
        long k = key(parent, tokens, offset, b);
        if (entries.containsKey(k)) {
            return null;
        }
        for (int block : blocks) {
            if (block < 0) {
                return null; // a sliding layer already let it go
            }
        }
        Entry e = new Entry(k, parent, Arrays.copyOfRange(tokens, offset, offset + b), blocks.clone());
        for (int block : e.blocks) {
            pool.retain(block);
        }
        entries.put(k, e);
        e.users = 1;
        return e;
    }

    private void use(Entry e) {
        if (e.users++ == 0) {
            evictableBlocks -= e.blocks.length;
        }
    }

    /** The caller no longer uses the entry; with no users left it may be evicted. */
    void unuse(Entry e) {
        if (e.users <= 0) {
            throw new IllegalStateException("prefix-cache entry released more often than used");
        }
        if (--e.users == 0) {
            evictableBlocks += e.blocks.length; // entries in use are never evicted, so e is still cached
        }
    }

    /** Evicts the least recently used entry nobody uses; false when there is none. */
    boolean evictOne() {
        for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.users == 0) {
                it.remove();
                evictableBlocks -= e.blocks.length;
                for (int block : e.blocks) {
                    pool.release(block);
                }
                return true;
            }
        }
        return false;
    }

    int evictableBlocks() {
        return evictableBlocks;
    }

    /** Prompt positions looked up (whole blocks) and found, since start. */
    public long queriedTokens() {
        return queriedTokens;
    }

    public long hitTokens() {
        return hitTokens;
    }
}
