package dev.shardlight.engine.runtime;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class TokenLogprobsTest {
    @Test
    void logprobsAreTheLogSoftmaxOfTheRawLogitsWithTopAlternativesHighestFirst() {
        float[] logits = {1f, 3f, 2f, -1f};
        double z = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(-1));
        TokenLogprobs lp = TokenLogprobs.of(logits, 0, 4, 2, 3);
        assertEquals(2, lp.token());
        assertEquals((float) (2 - z), lp.logprob(), 1e-6);
        assertArrayEquals(new int[] {1, 2, 0}, lp.topIds());
        assertEquals((float) (3 - z), lp.topLogprobs()[0], 1e-6);
        assertEquals((float) (1 - z), lp.topLogprobs()[2], 1e-6);
    }

    @Test
    void generatorReportsLogprobsOfTheTokensItPicks() throws Exception {
        try (var model = dev.shardlight.engine.model.Model.load(ReferenceLogitsTest.FIXTURES.resolve("llama32-like/model-f32.gguf"))) {
            var f = new CpuForwardPass(model, dev.shardlight.engine.kernel.Backends.kernels());
            java.util.List<TokenLogprobs> seen = new java.util.ArrayList<>();
            Generation g = new Generator(f).generate(new int[] {1, 17, 42, 99}, 5, SamplingParams.GREEDY, null, 4,
                    (t, lp) -> seen.add(lp), null);
            assertEquals(g.tokens().length, seen.size());
            for (int i = 0; i < seen.size(); i++) {
                assertEquals(g.tokens()[i], seen.get(i).token());
                assertEquals(g.tokens()[i], seen.get(i).topIds()[0], "greedy picks the most likely token");
                assertEquals(seen.get(i).topLogprobs()[0], seen.get(i).logprob());
            }
        }
    }
}
