package dev.shardlight.engine.runtime;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    private static SamplingParams params(float t, int k, float p, float minP, Long seed) {
        return new SamplingParams(t, k, p, minP, 1f, 0f, 0f, seed);
    }

    @Test
    void greedyPicksTheArgmax() {
        Sampler s = new Sampler(SamplingParams.GREEDY, 5);
        assertEquals(3, s.sample(new float[] {0.1f, 2f, -1f, 2.5f, 0f}, 0));
    }

    @Test
    void sameSeedSameTokens() {
        float[] logits = new float[1000];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.sin(i * 0.37) * 3;
        }
        int[] a = draw(new Sampler(params(1f, 0, 0.95f, 0f, 42L), 1000), logits, 50);
        int[] b = draw(new Sampler(params(1f, 0, 0.95f, 0f, 42L), 1000), logits, 50);
        int[] c = draw(new Sampler(params(1f, 0, 0.95f, 0f, 43L), 1000), logits, 50);
        assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
        assertTrue(!java.util.Arrays.equals(a, c), "a different seed should give a different sequence");
    }

    private static int[] draw(Sampler s, float[] logits, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.sample(logits.clone(), 0);
        }
        return out;
    }

    @Test
    void topKOnlyEverReturnsTheKBest() {
        float[] logits = {5f, 4f, 3f, 2f, 1f, 0f, 6f};
        Sampler s = new Sampler(params(5f, 3, 1f, 0f, 7L), logits.length);
        for (int i = 0; i < 500; i++) {
            int t = s.sample(logits.clone(), 0);
            assertTrue(t == 6 || t == 0 || t == 1, "token " + t + " is outside the top 3");
        }
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps exactly the first two
        float[] logits = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        Sampler s = new Sampler(params(1f, 0, 0.75f, 0f, 1L), 4);
        Map<Integer, Integer> hist = new HashMap<>();
        for (int i = 0; i < 4000; i++) {
            hist.merge(s.sample(logits.clone(), 0), 1, Integer::sum);
        }
        assertEquals(Map.of(0, hist.get(0), 1, hist.get(1)), hist);
        // renormalised 0.5 : 0.3 -> 62.5% / 37.5%
        assertEquals(0.625, hist.get(0) / 4000.0, 0.03);
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheBest() {
        float[] logits = {(float) Math.log(0.6), (float) Math.log(0.3), (float) Math.log(0.1)};
        Sampler s = new Sampler(params(1f, 0, 1f, 0.2f, 3L), 3); // threshold 0.12: drops token 2
        for (int i = 0; i < 2000; i++) {
            assertTrue(s.sample(logits.clone(), 0) != 2);
        }
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 2f, 0f, 0f, null), 3);
        s.observePrompt(new int[] {0, 1}, 0, 2);
        float[] logits = {3f, -1f, 1.6f};
        // 3/2 = 1.5 < 1.6; so token 2 wins, and -1 became -2
        assertEquals(2, s.sample(logits, 0));
        assertEquals(1.5f, logits[0]);
        assertEquals(-2f, logits[1]);
    }

    @Test
    void presenceAndFrequencyPenaltiesCountOutputTokens() {
        Sampler s = new Sampler(new SamplingParams(0f, 0, 1f, 0f, 1f, 0.5f, 0.25f, null), 2);
        s.accept(0);
        s.accept(0);
        float[] logits = {2f, 1.2f};
        assertEquals(1, s.sample(logits, 0)); // 2 - 0.5 - 2*0.25 = 1.0 < 1.2
        assertEquals(1.0f, logits[0], 1e-6);
    }

    @Test
    void invalidParametersNameTheField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> params(-1f, 0, 1f, 0f, null));
        assertTrue(e.getMessage().startsWith("temperature"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> params(1f, 0, 0f, 0f, null));
        assertTrue(e.getMessage().startsWith("top_p"), e.getMessage());
    }
}
