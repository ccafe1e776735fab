package dev.shardlight.engine.runtime;

import dev.shardlight.engine.model.ModelConfig;

/**
 * float32 keys and values on the heap, one array pair per layer, slot = position % capacity.
 * Sliding-window layers keep a ring of {@code window + chunk - 1} slots (a prefill chunk of C
 * tokens needs the W-1 keys before it plus its own), so their memory does not grow with the
 * context; global layers grow with the sequence.
 */
final class HeapKvCache implements KvCache {
    final float[][] keys;
    final float[][] values;
    final int[] capacity;
    private final boolean[] ring;
    private final int kvDim;
    private final int window;
    private final int maxLength;
    private int length;

    HeapKvCache(ModelConfig c, int maxLength, int maxChunk) {
        if (maxLength < 1 || maxLength > c.contextLength()) {
            throw new IllegalArgumentException("cache length " + maxLength + " outside 1.." + c.contextLength());
        }
        this.maxLength = maxLength;
        this.kvDim = c.kvDim();
        this.window = c.slidingWindow();
        int layers = c.layers();
        keys = new float[layers][];
        values = new float[layers][];
        capacity = new int[layers];
        ring = new boolean[layers];
        for (int l = 0; l < layers; l++) {
            int ringSize = c.slidingWindow() + maxChunk - 1;
            ring[l] = c.sliding()[l] && ringSize < maxLength;
            capacity[l] = ring[l] ? ringSize : Math.min(maxLength, 256);
            keys[l] = new float[capacity[l] * kvDim];
            values[l] = new float[capacity[l] * kvDim];
        }
    }

    /** Makes room for positions up to {@code end - 1}; ring layers never grow. */
    void reserve(int end) {
        if (end > maxLength) {
            throw new IllegalStateException("sequence of " + end + " positions exceeds this cache's " + maxLength);
        }
        for (int l = 0; l < capacity.length; l++) {
            if (!ring[l] && capacity[l] < end) {
                int cap = Math.min(maxLength, Math.max(end, capacity[l] * 2));
                keys[l] = java.util.Arrays.copyOf(keys[l], cap * kvDim);
                values[l] = java.util.Arrays.copyOf(values[l], cap * kvDim);
                capacity[l] = cap;
            }
        }
    }

    void advance(int count) {
        length += count;
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int maxLength() {
        return maxLength;
    }

    @Override
    public long bytes() {
        long n = 0;
        for (int l = 0; l < keys.length; l++) {
            n += 4L * (keys[l].length + values[l].length);
        }
        return n;
    }

    @Override
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("truncate to " + newLength + " of " + length);
        }
        for (int l = 0; l < ring.length; l++) {
            // Positions newLength.. overwrote slots of positions newLength-capacity..; the next
            // token needs newLength-window+1.. intact.
            if (ring[l] && length - newLength >= capacity[l] - window + 2) {
                throw new IllegalStateException("layer " + l + "'s sliding-window ring no longer holds the keys before position "
                        + newLength);
            }
        }
        length = newLength;
    }
}
