package dev.shardlight.engine.runtime;

import dev.shardlight.engine.model.ModelConfig;

/**
 * The KV memory of one replica: fixed-size blocks of {@link #blockSize()} positions of one layer's
 * keys and values, shared by all its sequences. A sequence's cache ({@link PagedKvCache}) holds a
 * block table per layer; blocks are reference-counted so a {@link PrefixCache} entry and any number
 * of sequences can share a full block of a common prompt prefix (shared blocks are never written:
 * a sequence only writes positions past its own shared prefix).
 *
 * <p>Free blocks sit on a stack. When it is empty, {@link #allocate()} asks the prefix cache to
 * evict its least recently used entry that no sequence uses, and takes one of the blocks that
 * frees. The pool size is set in bytes; keys and values are float32 on the heap (one array each).
 * Single-threaded: the owning engine thread is the only caller.
 */
public final class KvBlockPool {
    /** Positions per block unless configured otherwise. */
    public static final int DEFAULT_BLOCK_SIZE = 16;

    final float[] keys;
    final float[] values;
    final int blockShift;
    private final int blockSize;
    private final int kvDim;
    private final int[] refs;
    private final int[] freeStack;
    private int freeTop;
    private PrefixCache evictor;

    public KvBlockPool(int kvDim, int blockSize, int blocks) {
        if (blockSize < 1 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("KV block size " + blockSize + " must be a power of two");
        }
        if (blocks < 1) {
            throw new IllegalArgumentException("a KV pool needs at least one block");
        }
        long floats = (long) blocks * blockSize * kvDim;
        if (floats > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("KV pool of " + blocks + " blocks x " + blockSize + " x " + kvDim
                    + " floats exceeds one Java array per keys/values (" + (Integer.MAX_VALUE - 16) + " floats)");
        }
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.kvDim = kvDim;
        this.keys = new float[(int) floats];
        this.values = new float[(int) floats];
        this.refs = new int[blocks];
        this.freeStack = new int[blocks];
        for (int b = 0; b < blocks; b++) {
            freeStack[b] = blocks - 1 - b; // block 0 on top
        }
        this.freeTop = blocks;
    }

    /** A pool of as many whole blocks as {@code bytes} holds for this model's layers. */
    public static KvBlockPool ofBytes(ModelConfig c, long bytes, int blockSize) {
        long perBlock = bytesPerBlock(c, blockSize);
        long blocks = bytes / perBlock;
        if (blocks < 1) {
            throw new IllegalArgumentException("KV budget of " + bytes + " bytes is less than one block ("
                    + perBlock + " bytes: " + blockSize + " positions x " + c.kvDim() + " floats x keys+values)");
        }
        return new KvBlockPool(c.kvDim(), blockSize, (int) Math.min(blocks, Integer.MAX_VALUE));
    }

    public static long bytesPerBlock(ModelConfig c, int blockSize) {
        return 2L * Float.BYTES * blockSize * c.kvDim();
    }

    void evictWith(PrefixCache cache) {
        this.evictor = cache;
    }

    public int blockSize() {
        return blockSize;
    }

    public int kvDim() {
        return kvDim;
    }

    public int totalBlocks() {
        return refs.length;
    }

    /** Blocks on the free stack (not counting what the prefix cache could give back). */
    public int freeBlocks() {
        return freeTop;
    }

    /** Blocks a request could get now: free ones plus those only an unused prefix-cache entry holds. */
    public int availableBlocks() {
        return freeTop + (evictor == null ? 0 : evictor.evictableBlocks());
    }

    public long bytesPerBlock() {
        return 2L * Float.BYTES * blockSize * kvDim;
    }

    /** A block with one reference, or -1 when none is free even after evicting cached prefixes. */
    int allocate() {
        while (freeTop == 0) {
            if (evictor == null || !evictor.evictOne()) {
                return -1;
            }
        }
        int b = freeStack[--freeTop];
        refs[b] = 1;
        return b;
    }

    void retain(int block) {
        if (refs[block] <= 0) {
            throw new IllegalStateException("KV block " + block + " is not allocated");
        }
        refs[block]++;
    }

    void release(int block) {
        if (refs[block] <= 0) {
            throw new IllegalStateException("KV block " + block + " released more often than taken");
        }
        if (--refs[block] == 0) {
            freeStack[freeTop++] = block;
        }
    }

    int refs(int block) {
        return refs[block];
    }

    /** Copies the first {@code positions} slots of block {@code from} into block {@code to}. */
    void copy(int from, int to, int positions) {
        int n = positions * kvDim;
        System.arraycopy(keys, (from << blockShift) * kvDim, keys, (to << blockShift) * kvDim, n);
        System.arraycopy(values, (from << blockShift) * kvDim, values, (to << blockShift) * kvDim, n);
    }
}
