package dev.shardlight.engine.runtime;

/**
 * The keys and values one sequence has accumulated, owned by the {@link ForwardPass} that made it
 * (a GPU backend keeps its cache on the device). {@link #length()} positions have been processed.
 */
public interface KvCache {
    /** Positions already written (the next token goes to position {@code length()}). */
    int length();

    /** Longest sequence this cache accepts. */
    int maxLength();

    /** Bytes currently allocated for keys and values. */
    long bytes();

    /** Forgets positions from {@code length} on, e.g. to reuse a prompt prefix. */
    void truncate(int length);
}
