package dev.shardlight.engine.runtime;

/**
 * How the next token is chosen. temperature 0 is greedy (argmax). topK 0 and topP 1 and minP 0
 * disable those filters. repetitionPenalty follows transformers (divides positive logits,
 * multiplies negative ones, over prompt and output); presence/frequency penalties follow OpenAI
 * (subtracted per output token occurrence). A seed makes sampling repeatable.
 */
public record SamplingParams(float temperature, int topK, float topP, float minP,
                             float repetitionPenalty, float presencePenalty, float frequencyPenalty,
                             Long seed) {

    public static final SamplingParams GREEDY = new SamplingParams(0f, 0, 1f, 0f, 1f, 0f, 0f, null);

    public SamplingParams {
        check(temperature >= 0 && Float.isFinite(temperature), "temperature", temperature, "must be >= 0");
        check(topK >= 0, "top_k", topK, "must be >= 0 (0 disables it)");
        check(topP > 0 && topP <= 1, "top_p", topP, "must be in (0, 1]");
        check(minP >= 0 && minP <= 1, "min_p", minP, "must be in [0, 1]");
        check(repetitionPenalty > 0 && Float.isFinite(repetitionPenalty), "repetition_penalty", repetitionPenalty, "must be > 0");
        check(presencePenalty >= -2 && presencePenalty <= 2, "presence_penalty", presencePenalty, "must be in [-2, 2]");
        check(frequencyPenalty >= -2 && frequencyPenalty <= 2, "frequency_penalty", frequencyPenalty, "must be in [-2, 2]");
    }

    private static void check(boolean ok, String field, Object value, String rule) {
        if (!ok) {
            throw new IllegalArgumentException(field + " = " + value + " " + rule);
        }
    }

    public boolean greedy() {
        return temperature == 0f;
    }
}
