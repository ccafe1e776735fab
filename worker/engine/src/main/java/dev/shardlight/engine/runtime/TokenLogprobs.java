package dev.shardlight.engine.runtime;

/**
 * The log-probability of a chosen token and of the most likely alternatives at that step, from the
 * model's raw logits (log-softmax before penalties, temperature and filters, as vLLM and the
 * OpenAI API report them). {@code topIds} is highest first.
 */
public record TokenLogprobs(int token, float logprob, int[] topIds, float[] topLogprobs) {

    /** From one row of raw logits: log-softmax in float64 accumulation, then the top {@code topN}. */
    public static TokenLogprobs of(float[] logits, int offset, int vocab, int token, int topN) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[offset + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[offset + i] - max);
        }
        float logZ = (float) (max + Math.log(sum));
        int n = Math.min(topN, vocab);
        int[] ids = new int[n];
        float[] lps = new float[n];
        int filled = 0;
        for (int i = 0; i < vocab && n > 0; i++) {
            float v = logits[offset + i];
            if (filled < n || v > logits[offset + ids[filled - 1]]) {
                int at = filled < n ? filled++ : n - 1;
                while (at > 0 && logits[offset + ids[at - 1]] < v) {
                    ids[at] = ids[at - 1];
                    at--;
                }
                ids[at] = i;
            }
        }
        for (int i = 0; i < n; i++) {
            lps[i] = logits[offset + ids[i]] - logZ;
        }
        return new TokenLogprobs(token, logits[offset + token] - logZ, ids, lps);
    }
}
