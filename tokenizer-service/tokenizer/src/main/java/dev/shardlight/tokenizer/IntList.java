package dev.shardlight.tokenizer;

import java.util.Arrays;

/** A growable int array: token ids are collected without boxing. */
final class IntList {
    private int[] data;
    private int size;

    IntList(int capacity) {
        data = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (size == data.length) {
            data = Arrays.copyOf(data, size * 2);
        }
        data[size++] = v;
    }

    void addAll(int[] values) {
        addAll(values, values.length);
    }

    void addAll(int[] values, int count) {
        if (size + count > data.length) {
            data = Arrays.copyOf(data, Math.max(size * 2, size + count));
        }
        System.arraycopy(values, 0, data, size, count);
        size += count;
    }

    int size() {
        return size;
    }

    int get(int i) {
        return data[i];
    }

    int[] toArray() {
        return Arrays.copyOf(data, size);
    }
}
