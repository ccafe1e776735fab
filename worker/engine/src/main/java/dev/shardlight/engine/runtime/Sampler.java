package dev.shardlight.engine.runtime;

import java.util.SplittableRandom;

/**
 * Picks tokens from logits: penalties, then temperature, then top-k, top-p and min-p, then a
 * draw (the order vLLM uses). Works in place on the logits row and reuses its buffers, so a
 * sampler belongs to one sequence. Filters run in O(vocab) expected time (quickselect-style
 * partitioning), not a full sort of 262k candidates per token.
 */
public final class Sampler {
    private final SamplingParams p;
    private final SplittableRandom random;
    private final int[] counts;      // occurrences in the output so far
    private final boolean[] seen;    // in prompt or output (repetition penalty)
    private final int[] idx;
    private final float[] prob;

    public Sampler(SamplingParams params, int vocab) {
        this.p = params;
        this.random = params.seed() != null ? new SplittableRandom(params.seed()) : new SplittableRandom();
        this.counts = new int[vocab];
        this.seen = new boolean[vocab];
        this.idx = new int[vocab];
        this.prob = new float[vocab];
    }

    /** Tokens of the prompt, for the repetition penalty. */
    public void observePrompt(int[] tokens, int offset, int count) {
        for (int i = 0; i < count; i++) {
            seen[tokens[offset + i]] = true;
        }
    }

    /** Records a generated token (penalties count it from now on). */
    public void accept(int token) {
        seen[token] = true;
        counts[token]++;
    }

    /** Chooses the next token from {@code logits[offset .. offset+vocab)} (modified in place). */
    public int sample(float[] logits, int offset) {
        int n = counts.length;
        applyPenalties(logits, offset, n);
        if (p.greedy()) {
            return argmax(logits, offset, n);
        }
        float invT = 1f / p.temperature();
        int m = n;
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        if (p.topK() > 0 && p.topK() < n) {
            m = selectTop(logits, offset, m, p.topK());
        }
        // softmax over the m candidates
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < m; i++) {
            max = Math.max(max, logits[offset + idx[i]]);
        }
        double sum = 0;
        for (int i = 0; i < m; i++) {
            float e = (float) Math.exp((logits[offset + idx[i]] - max) * invT);
            prob[idx[i]] = e;
            sum += e;
        }
        float pmax = 0;
        for (int i = 0; i < m; i++) {
            prob[idx[i]] /= (float) sum;
            pmax = Math.max(pmax, prob[idx[i]]);
        }
        if (p.topP() < 1f) {
            m = smallestSetReaching(m, p.topP());
        }
        if (p.minP() > 0f) {
            float threshold = p.minP() * pmax;
            int kept = 0;
            for (int i = 0; i < m; i++) {
                if (prob[idx[i]] >= threshold) {
                    idx[kept++] = idx[i];
                }
            }
            m = kept;
        }
        double total = 0;
        for (int i = 0; i < m; i++) {
            total += prob[idx[i]];
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < m; i++) {
            u -= prob[idx[i]];
            if (u < 0) {
                return idx[i];
            }
        }
        return idx[m - 1];
    }

    private void applyPenalties(float[] logits, int offset, int n) {
        float rep = p.repetitionPenalty();
        float pres = p.presencePenalty();
        float freq = p.frequencyPenalty();
        if (rep == 1f && pres == 0f && freq == 0f) {
            return;
        }
        for (int t = 0; t < n; t++) {
            if (rep != 1f && seen[t]) {
                float l = logits[offset + t];
                logits[offset + t] = l < 0 ? l * rep : l / rep;
            }
            if (counts[t] > 0) {
                logits[offset + t] -= pres + freq * counts[t];
            }
        }
    }

    static int argmax(float[] logits, int offset, int n) {
        int best = 0;
        float bv = logits[offset];
        for (int i = 1; i < n; i++) {
            if (logits[offset + i] > bv) {
                bv = logits[offset + i];
                best = i;
            }
        }
        return best;
    }

    /** Moves the k largest logits among idx[0..m) to idx[0..k) (ties broken arbitrarily but deterministically). */
    private int selectTop(float[] logits, int offset, int m, int k) {
        int lo = 0;
        int hi = m;
        int want = k;
        while (hi - lo > want && want > 0) {
            float pivot = logits[offset + idx[lo + (hi - lo) / 2]];
            int gt = partition(logits, offset, lo, hi, pivot, true);
            int eq = partition(logits, offset, gt, hi, pivot, false);
            if (gt - lo >= want) {
                hi = gt;
            } else if (eq - lo >= want) {
                return k;
            } else {
                want -= eq - lo;
                lo = eq;
            }
        }
        return k;
    }

    /** Partitions idx[from..to) so that elements (> pivot when strict, else == pivot) come first; returns the split. */
    private int partition(float[] v, int offset, int from, int to, float pivot, boolean greater) {
        int j = from;
        for (int i = from; i < to; i++) {
            float x = v[offset + idx[i]];
            if (greater ? x > pivot : x == pivot) {
                int t = idx[i];
                idx[i] = idx[j];
                idx[j++] = t;
            }
        }
        return j;
    }

    /** Keeps in idx[0..) the smallest set of most probable candidates whose probability reaches {@code topP}. */
    private int smallestSetReaching(int m, float topP) {
        int lo = 0;
        int hi = m;
        double need = topP;
        while (hi > lo) {
            float pivot = prob[idx[lo + (hi - lo) / 2]];
            int gt = partitionProb(lo, hi, pivot, true);
            int eq = partitionProb(gt, hi, pivot, false);
            double sumGt = 0;
            for (int i = lo; i < gt; i++) {
                sumGt += prob[idx[i]];
            }
            if (sumGt >= need && gt > lo) {
                hi = gt;
                continue;
            }
            double acc = sumGt;
            for (int i = gt; i < eq; i++) {
                acc += prob[idx[i]];
                if (acc >= need) {
                    return i + 1;
                }
            }
            need -= acc;
            lo = eq;
        }
        return Math.max(1, lo);
    }

    private int partitionProb(int from, int to, float pivot, boolean greater) {
        int j = from;
        for (int i = from; i < to; i++) {
            float x = prob[idx[i]];
            if (greater ? x > pivot : x == pivot) {
                int t = idx[i];
                idx[i] = idx[j];
                idx[j++] = t;
            }
        }
        return j;
    }
}
