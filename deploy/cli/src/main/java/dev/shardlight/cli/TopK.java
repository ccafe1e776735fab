package dev.shardlight.cli;

import java.util.PriorityQueue;

/** The k largest entries of a logits row, highest first (ties: lower id first). */
final class TopK {
    private TopK() {
    }

    static int[] indices(float[] v, int offset, int n, int k) {
        PriorityQueue<Integer> heap = new PriorityQueue<>(k + 1, (x, y) -> {
            int c = Float.compare(v[offset + x], v[offset + y]);
            return c != 0 ? c : Integer.compare(y, x);
        });
        for (int i = 0; i < n; i++) {
            heap.add(i);
            if (heap.size() > k) {
                heap.poll();
            }
        }
        int[] out = new int[heap.size()];
        for (int i = out.length - 1; i >= 0; i--) {
            out[i] = heap.poll();
        }
        return out;
    }
}
