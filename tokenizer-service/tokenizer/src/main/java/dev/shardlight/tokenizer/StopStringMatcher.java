package dev.shardlight.tokenizer;

import java.util.List;

/**
 * Finds stop strings in streamed text whose pieces may split a stop string anywhere. Text that
 * could still turn out to be the start of a stop string is held back until the next delta
 * decides it, so a client never sees part of a stop string.
 *
 * <p>Not thread-safe: one per stream.
 */
public final class StopStringMatcher {
    /** What a delta releases: {@code text} is safe to emit; {@code stopped} means the stream ends here. */
    public record Step(String text, boolean stopped, String stopString) {
    }

    private final List<String> stops;
    private final int longest;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopStringMatcher(List<String> stopStrings) {
        for (String s : stopStrings) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must be non-empty");
            }
        }
        this.stops = List.copyOf(stopStrings);
        this.longest = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** Adds a decoded delta; returns the text now safe to emit and whether a stop string ended it. */
    public Step accept(String delta) {
        if (stopped) {
            throw new IllegalStateException("the stream already stopped");
        }
        held.append(delta);
        int at = Integer.MAX_VALUE;
        String which = null;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && i < at) {
                at = i;
                which = s;
            }
        }
        if (which != null) {
            stopped = true;
            String out = held.substring(0, at);
            held.setLength(0);
            return new Step(out, true, which);
        }
        int keep = heldBackLength();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return new Step(out, false, null);
    }

    /** Ends the stream without a stop string: whatever was held back is plain text after all. */
    public String finish() {
        String out = stopped ? "" : held.toString();
        held.setLength(0);
        return out;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int heldBackLength() {
        int max = Math.min(held.length(), longest - 1);
        for (int k = max; k > 0; k--) {
            int from = held.length() - k;
            // never split a surrogate pair between emitted and held text
            if (Character.isLowSurrogate(held.charAt(from)) && from > 0 && Character.isHighSurrogate(held.charAt(from - 1))) {
                continue;
            }
            for (String s : stops) {
                if (s.length() > k && regionMatches(s, from, k)) {
                    return k;
                }
            }
        }
        return 0;
    }

    private boolean regionMatches(String stop, int from, int k) {
        for (int i = 0; i < k; i++) {
            if (held.charAt(from + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
