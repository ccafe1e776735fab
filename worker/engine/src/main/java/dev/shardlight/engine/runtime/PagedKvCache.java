package dev.shardlight.engine.runtime;

import dev.shardlight.engine.model.ModelConfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sequence's keys and values in a {@link KvBlockPool}: per layer, a table from logical block
 * (position / block size) to physical block, filled as the sequence grows.
 *
 * <p>Sliding-window layers give back blocks that have fallen out of their window: after each
 * step, a block whose last position is before {@code length - window - slack} is released, where
 * {@code slack} (a prefill chunk) is how far {@link #truncate} may rewind. So a long Gemma 3
 * context holds memory mostly for its global layers. Blocks shared with the {@link PrefixCache}
 * (a reused prompt prefix) are only ever read; rewinding into one first copies it.
 */
public final class PagedKvCache implements KvCache {
    private final KvBlockPool pool;
    private final int layers;
    private final boolean[] sliding;
    private final int window;
    private final int slack;
    private final int maxLength;
    final int[][] table;
    private final List<PrefixCache.Entry> shared = new ArrayList<>();
    /** Blocks [0, lowestLive) of sliding layers are released. */
    private int slidingReleasedBelow;
    private int held;
    private int length;
    private boolean freed;

    PagedKvCache(KvBlockPool pool, ModelConfig c, int maxLength, int slack) {
        if (maxLength < 1 || maxLength > c.contextLength()) {
            throw new IllegalArgumentException("cache length " + maxLength + " outside 1.." + c.contextLength());
        }
        this.pool = pool;
        this.layers = c.layers();
        this.sliding = c.sliding().clone();
        this.window = c.slidingWindow();
        this.slack = slack;
        this.maxLength = maxLength;
        int blocks = (maxLength + pool.blockSize() - 1) / pool.blockSize();
        this.table = new int[layers][blocks];
        for (int[] t : table) {
            Arrays.fill(t, -1);
        }
    }

    /**
     * Blocks all layers together need to hold positions up to {@code end - 1} of a sequence of
     * this shape from scratch, counting only what sliding layers keep at once.
     */
    public static int blocksFor(ModelConfig c, int blockSize, int end, int slack) {
        int all = (end + blockSize - 1) / blockSize;
        // what a sliding layer holds at most: the window, the rewind slack and a chunk being written
        int windowBlocks = (c.slidingWindow() + 2 * slack + blockSize - 1) / blockSize + 2;
        int n = 0;
        for (boolean s : c.sliding()) {
            n += s ? Math.min(all, windowBlocks) : all;
        }
        return n;
    }

    /** Physical blocks newly needed to extend this cache to {@code end} positions. */
    int blocksToReach(int end) {
        int b = pool.blockSize();
        int last = (end - 1) / b;
        int n = 0;
        for (int l = 0; l < layers; l++) {
            for (int i = length / b; i <= last; i++) {
                if (table[l][i] < 0) {
                    n++;
                }
            }
        }
        return n;
    }

    /** The earliest position a sliding layer still reads when the next token is at {@code pos}. */
    private int firstNeeded(int pos) {
        return Math.max(0, pos - window + 1);
    }

    /**
     * Allocates what positions {@code length() .. end-1} need; false (with nothing held beyond
     * what was there) when the pool has no block left.
     */
    boolean reserve(int end) {
        if (end > maxLength) {
            throw new IllegalStateException("sequence of " + end + " positions exceeds this cache's " + maxLength);
        }
        int b = pool.blockSize();
        int firstLogical = length / b;
        int last = (end - 1) / b;
        int[] added = new int[2 * layers * (last - firstLogical + 1)];
        int n = 0;
        for (int l = 0; l < layers; l++) {
            for (int i = firstLogical; i <= last; i++) {
                if (table[l][i] >= 0) {
                    continue;
                }
                int block = pool.allocate();
                if (block < 0) {
                    for (int k = 0; k < n; k += 2) {
                        pool.release(table[added[k]][added[k + 1]]);
                        table[added[k]][added[k + 1]] = -1;
                        held--;
                    }
                    return false;
                }
                table[l][i] = block;
                held++;
                added[n++] = l;
                added[n++] = i;
            }
        }
        return true;
    }

    /** The forward pass wrote positions up to {@code length + count}. */
    void advance(int count) {
        length += count;
        releaseOutOfWindow();
    }

    private void releaseOutOfWindow() {
        int b = pool.blockSize();
        // Block i's last position is (i+1)*b - 1; it is done with once that is below firstNeeded - slack.
        int below = Math.max(0, firstNeeded(length) - slack) / b;
        if (below <= slidingReleasedBelow) {
            return;
        }
        for (int l = 0; l < layers; l++) {
            if (!sliding[l]) {
                continue;
            }
            for (int i = slidingReleasedBelow; i < below; i++) {
                if (table[l][i] >= 0) {
                    pool.release(table[l][i]);
                    table[l][i] = -1;
                    held--;
                }
            }
        }
        slidingReleasedBelow = below;
    }

    /** Takes over cached prefix blocks (each entry one logical block, in order from 0). */
    void adopt(List<PrefixCache.Entry> entries) {
        if (length != 0 || !shared.isEmpty()) {
            throw new IllegalStateException("a prefix is adopted by an empty cache only");
        }
        for (int i = 0; i < entries.size(); i++) {
            PrefixCache.Entry e = entries.get(i);
            for (int l = 0; l < layers; l++) {
                pool.retain(e.blocks[l]);
                table[l][i] = e.blocks[l];
                held++;
            }
            shared.add(e);
        }
        length = entries.size() * pool.blockSize();
        releaseOutOfWindow();
    }

    /** Physical blocks of logical block {@code i} in every layer (-1 where released). */
    int[] blocksAt(int i) {
        int[] out = new int[layers];
        for (int l = 0; l < layers; l++) {
            out[l] = table[l][i];
        }
        return out;
    }

    void share(PrefixCache.Entry e) {
        shared.add(e);
    }

    /** Gives every block back (to the pool, or to the prefix cache's unused entries). */
    void free(PrefixCache cache) {
        if (freed) {
            return;
        }
        freed = true;
        for (int[] t : table) {
            for (int i = 0; i < t.length; i++) {
                if (t[i] >= 0) {
                    pool.release(t[i]);
                    t[i] = -1;
                }
            }
        }
        held = 0;
        for (PrefixCache.Entry e : shared) {
            cache.unuse(e);
        }
        shared.clear();
    }

    KvBlockPool pool() {
        return pool;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int maxLength() {
        return maxLength;
    }

    /** Bytes of the blocks this sequence holds (shared prefix blocks included). */
    @Override
    public long bytes() {
        return held * pool.bytesPerBlock();
    }

    @Override
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("truncate to " + newLength + " of " + length);
        }
        if (newLength == length) {
            return;
        }
        int b = pool.blockSize();
        if (firstNeeded(newLength) < slidingReleasedBelow * b) {
            for (int l = 0; l < layers; l++) {
                if (sliding[l]) {
                    throw new IllegalStateException("layer " + l + "'s sliding window no longer holds the keys before "
                            + "position " + newLength + " (rewinding more than " + slack + " positions)");
                }
            }
        }
        // Blocks wholly past the new end are let go; the one it falls in is written next, so it
        // must not be shared with the prefix cache or another sequence (copy on write).
        int firstBeyond = (newLength + b - 1) / b;
        for (int l = 0; l < layers; l++) {
            for (int i = firstBeyond; i < table[l].length; i++) {
                if (table[l][i] >= 0) {
                    pool.release(table[l][i]);
                    table[l][i] = -1;
                    held--;
                }
            }
            if (newLength % b != 0) {
                int i = newLength / b;
                int block = table[l][i];
                if (block >= 0 && pool.refs(block) > 1) {
                    int copy = pool.allocate();
                    if (copy < 0) {
                        throw new IllegalStateException("no free KV block to copy a shared prefix block into");
                    }
                    pool.copy(block, copy, newLength % b);
                    pool.release(block);
                    table[l][i] = copy;
                }
            }
        }
        length = newLength;
    }
}
