package dev.shardlight.engine.runtime;

/**
 * The outcome of one generation: the tokens produced, why it ended, and how long prefill and
 * decode took (nanoseconds, wall clock).
 */
public record Generation(int[] promptTokens, int[] tokens, FinishReason finishReason,
                         long prefillNanos, long decodeNanos) {

    public enum FinishReason { STOP, LENGTH, CANCELLED }

    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptTokens.length * 1e9 / prefillNanos;
    }

    /** Decode speed over the tokens after the first (the first comes out of prefill). */
    public double decodeTokensPerSecond() {
        return tokens.length <= 1 || decodeNanos == 0 ? 0 : (tokens.length - 1) * 1e9 / decodeNanos;
    }
}
