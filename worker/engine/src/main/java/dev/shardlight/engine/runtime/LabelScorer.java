package dev.shardlight.engine.runtime;

import java.util.ArrayList;
import java.util.List;

/**
 * Scores label continuations of one prompt: for each label, its log-likelihood
 * {@code sum_i log P(label[i] | prompt, label[0..i))} under the model's raw distribution, the
 * quantity a zero-shot classifier ranks labels by (works alike for base, instruction and
 * fine-tuned models, since it never samples).
 *
 * <p>The prompt is prefilled once. Every label's first token is scored from that one row of
 * logits; a label of n &gt; 1 tokens then runs its first n-1 tokens as one chunk on top of the
 * prompt's KV cache (all positions' logits), after which the cache is rewound to the prompt
 * ({@link KvCache#truncate}). So K labels cost one prompt prefill plus one short chunk per
 * multi-token label; single-token labels cost nothing beyond the prefill. (Scoring all labels
 * in literally one pass would need a tree attention mask over the continuations, which the
 * forward pass does not have.)
 */
public final class LabelScorer {
    /**
     * Longest label accepted. The rewind must not reach past what a sliding-window ring still
     * holds (HeapKvCache keeps window + chunk - 1 slots), and labels are short names anyway.
     */
    public static final int MAX_LABEL_TOKENS = 32;
    /** Most labels one call may score. */
    public static final int MAX_LABELS = 64;

    private final ForwardPass forward;

    public LabelScorer(ForwardPass forward) {
        this.forward = forward;
    }

    /**
     * @param tokenLogprobs log P of each label token given the prompt and the label tokens before it
     */
    public record LabelScore(double logLikelihood, float[] tokenLogprobs) {
    }

    /**
     * @param forwardPasses forward calls made (1 prefill + one per multi-token label)
     * @param nanos         time spent in the forward passes and log-softmax
     */
    public record Scores(List<LabelScore> labels, int promptTokens, int forwardPasses, long nanos) {
    }

    /**
     * @param prompt token ids of the classification prompt (BOS included if the model wants one)
     * @param labels token ids of each label continuation, as they follow the prompt
     * @throws IllegalArgumentException naming what is wrong (empty prompt / label, ids outside the
     *                                  vocabulary, too many or too long labels, context overflow)
     */
    public Scores score(int[] prompt, int[][] labels) {
        var c = forward.config();
        validate(prompt, labels, c.vocab(), c.contextLength());
        long t0 = System.nanoTime();
        int longest = 0;
        for (int[] label : labels) {
            longest = Math.max(longest, label.length);
        }
        int vocab = c.vocab();
        KvCache cache = forward.newCache(prompt.length + longest - 1);
        float[] last = new float[vocab];
        forward.forward(cache, prompt, 0, prompt.length, last, false);
        int passes = 1;
        float[] rows = longest > 1 ? new float[(longest - 1) * vocab] : null;
        List<LabelScore> out = new ArrayList<>(labels.length);
        for (int[] label : labels) {
            float[] lps = new float[label.length];
            lps[0] = TokenLogprobs.of(last, 0, vocab, label[0], 0).logprob();
            if (label.length > 1) {
                forward.forward(cache, label, 0, label.length - 1, rows, true);
                passes++;
                for (int i = 1; i < label.length; i++) {
                    lps[i] = TokenLogprobs.of(rows, (i - 1) * vocab, vocab, label[i], 0).logprob();
                }
                cache.truncate(prompt.length);
            }
            double sum = 0;
            for (float lp : lps) {
                sum += lp;
            }
            out.add(new LabelScore(sum, lps));
        }
        return new Scores(List.copyOf(out), prompt.length, passes, System.nanoTime() - t0);
    }

    private static void validate(int[] prompt, int[][] labels, int vocab, int context) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt is empty; at least one token (e.g. BOS) is needed");
        }
        checkIds("prompt", prompt, vocab);
        if (labels.length == 0) {
            throw new IllegalArgumentException("labels: none given; at least one label is needed");
        }
        if (labels.length > MAX_LABELS) {
            throw new IllegalArgumentException("labels: " + labels.length + " given, at most " + MAX_LABELS);
        }
        for (int k = 0; k < labels.length; k++) {
            int[] label = labels[k];
            if (label.length == 0) {
                throw new IllegalArgumentException("labels[" + k + "] has no tokens");
            }
            if (label.length > MAX_LABEL_TOKENS) {
                throw new IllegalArgumentException("labels[" + k + "] has " + label.length + " tokens, at most "
                        + MAX_LABEL_TOKENS);
            }
            checkIds("labels[" + k + "]", label, vocab);
            long total = (long) prompt.length + label.length - 1;
            if (total > context) {
                throw new IllegalArgumentException("prompt (" + prompt.length + " tokens) + labels[" + k + "] ("
                        + label.length + " tokens) exceeds the model's context of " + context);
            }
        }
    }

    private static void checkIds(String what, int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(what + "[" + i + "] = " + ids[i] + " is outside the vocabulary (0.."
                        + (vocab - 1) + ")");
            }
        }
    }
}
