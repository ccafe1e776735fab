package dev.shardlight.tokenizer;

/**
 * Applies BPE merges to one word's symbols: repeatedly merge the adjacent pair with the lowest
 * rank, the leftmost on ties (tokenizers {@code Word::merge_all} pops the same order from its
 * heap). Short words scan an array of pair ranks; long ones (Gemma encodes a whole line as one
 * word) use a heap over a linked list so the cost stays O(n log n).
 */
final class BpeMerger {
    private static final int SCAN_LIMIT = 48;

    private final MergeTable merges;

    BpeMerger(MergeTable merges) {
        this.merges = merges;
    }

    /** Merges {@code ids[0, n)} in place and appends the result to {@code out}. */
    void merge(int[] ids, int n, IntList out) {
        if (n <= 1) {
            out.addAll(ids, n);
        } else if (n <= SCAN_LIMIT) {
            out.addAll(ids, mergeByScan(ids, n));
        } else {
            mergeByHeap(ids, n, out);
        }
    }

    /** Returns the new symbol count; {@code ids} holds the merged symbols. */
    private int mergeByScan(int[] ids, int n) {
        int[] slots = new int[n];
        int[] ranks = new int[n];
        for (int i = 0; i + 1 < n; i++) {
            setPair(ids, slots, ranks, i);
        }
        while (n > 1) {
            int best = MergeTable.NONE;
            int at = -1;
            for (int i = 0; i + 1 < n; i++) {
                if (ranks[i] < best) {
                    best = ranks[i];
                    at = i;
                }
            }
            if (at < 0) {
                break;
            }
            ids[at] = merges.mergedAt(slots[at]);
            int tail = n - at - 2;
            System.arraycopy(ids, at + 2, ids, at + 1, tail);
            System.arraycopy(slots, at + 2, slots, at + 1, tail);
            System.arraycopy(ranks, at + 2, ranks, at + 1, tail);
            n--;
            if (at > 0) {
                setPair(ids, slots, ranks, at - 1);
            }
            if (at + 1 < n) {
                setPair(ids, slots, ranks, at);
            } else {
                ranks[at] = MergeTable.NONE;
            }
        }
        return n;
    }

    private void setPair(int[] ids, int[] slots, int[] ranks, int i) {
        int slot = merges.find(ids[i], ids[i + 1]);
        slots[i] = slot;
        ranks[i] = slot < 0 ? MergeTable.NONE : merges.rankAt(slot);
    }

    private void mergeByHeap(int[] ids, int n, IntList out) {
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] gone = new boolean[n];
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            if (i + 1 < n) {
                push(heap, ids[i], ids[i + 1], i);
            }
        }
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int pos = (int) top;
            int rank = (int) (top >>> 32);
            int right = next[pos];
            if (gone[pos] || right < 0) {
                continue;
            }
            int slot = merges.find(ids[pos], ids[right]);
            if (slot < 0 || merges.rankAt(slot) != rank) {
                continue; // stale: one side was merged since this pair was queued
            }
            ids[pos] = merges.mergedAt(slot);
            gone[right] = true;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[after] = pos;
                push(heap, ids[pos], ids[after], pos);
            }
            if (prev[pos] >= 0) {
                push(heap, ids[prev[pos]], ids[pos], prev[pos]);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            out.add(ids[i]);
        }
    }

    private void push(LongHeap heap, int left, int right, int pos) {
        int rank = merges.rank(left, right);
        if (rank != MergeTable.NONE) {
            heap.push(((long) rank << 32) | pos);
        }
    }

    /** Binary min-heap of (rank << 32 | position): lowest rank first, then leftmost. */
    private static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == a.length) {
                a = java.util.Arrays.copyOf(a, size * 2);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (a[parent] <= v) {
                    break;
                }
                a[i] = a[parent];
                i = parent;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0];
            long last = a[--size];
            int i = 0;
            int half = size >>> 1;
            while (i < half) {
                int child = 2 * i + 1;
                if (child + 1 < size && a[child + 1] < a[child]) {
                    child++;
                }
                if (last <= a[child]) {
                    break;
                }
                a[i] = a[child];
                i = child;
            }
            a[i] = last;
            return top;
        }
    }
}
