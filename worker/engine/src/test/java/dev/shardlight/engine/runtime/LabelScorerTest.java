package dev.shardlight.engine.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.model.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Label log-likelihoods against transformers (make_label_fixtures.py: each label scored in its own
 * full forward pass over prompt + label), for a Gemma and the Llama fixture. Chunk 7 makes the
 * 60-token prompt wrap Gemma's sliding-window ring (window 8) before the labels rewind it.
 */
class LabelScorerTest {
    static final double TOLERANCE = 1e-3;

    static List<JsonNode> cases(String fixture) throws Exception {
        JsonNode root = new ObjectMapper().readTree(ReferenceLogitsTest.FIXTURES.resolve("labels.json").toFile());
        List<JsonNode> out = new ArrayList<>();
        root.path("cases").forEach(c -> {
            if (c.path("fixture").asText().equals(fixture)) {
                out.add(c);
            }
        });
        return out;
    }

    static int[] ids(JsonNode n) {
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = n.get(i).asInt();
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gemma3-1b-like", "llama32-like"})
    void labelLogLikelihoodsMatchTransformers(String fixture) throws Exception {
        List<JsonNode> cases = cases(fixture);
        assertEquals(3, cases.size());
        try (Model model = Model.load(ReferenceLogitsTest.FIXTURES.resolve(fixture).resolve("hf-f32"))) {
            for (int chunk : new int[] {7, CpuForwardPass.DEFAULT_CHUNK}) {
                LabelScorer scorer = new LabelScorer(new CpuForwardPass(model, Backends.kernels(), chunk));
                for (JsonNode c : cases) {
                    int[] prompt = ids(c.path("prompt"));
                    int[][] labels = new int[c.path("labels").size()][];
                    int multiToken = 0;
                    for (int k = 0; k < labels.length; k++) {
                        labels[k] = ids(c.path("labels").get(k));
                        multiToken += labels[k].length > 1 ? 1 : 0;
                    }
                    LabelScorer.Scores s = scorer.score(prompt, labels);
                    assertEquals(1 + multiToken, s.forwardPasses(), "one prefill plus one chunk per multi-token label");
                    assertEquals(prompt.length, s.promptTokens());
                    for (int k = 0; k < labels.length; k++) {
                        String where = fixture + " chunk " + chunk + " prompt " + prompt.length + " label " + k;
                        assertEquals(c.path("log_likelihoods").get(k).asDouble(), s.labels().get(k).logLikelihood(),
                                TOLERANCE, where);
                        JsonNode tokens = c.path("token_logprobs").get(k);
                        assertEquals(labels[k].length, s.labels().get(k).tokenLogprobs().length, where);
                        for (int i = 0; i < labels[k].length; i++) {
                            assertEquals(tokens.get(i).asDouble(), s.labels().get(k).tokenLogprobs()[i], TOLERANCE,
                                    where + " token " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void scoringTwiceGivesTheSameNumbersBecauseTheCacheIsRewound() throws Exception {
        try (Model model = Model.load(ReferenceLogitsTest.FIXTURES.resolve("llama32-like/model-f32.gguf"))) {
            LabelScorer scorer = new LabelScorer(new CpuForwardPass(model, Backends.kernels()));
            int[] prompt = {1, 30, 31, 32};
            int[][] forward = {{5, 6, 7}, {9}, {10, 11}};
            int[][] backward = {{10, 11}, {9}, {5, 6, 7}};
            var a = scorer.score(prompt, forward);
            var b = scorer.score(prompt, backward);
            for (int k = 0; k < 3; k++) {
                assertEquals(a.labels().get(k).logLikelihood(), b.labels().get(2 - k).logLikelihood(), 1e-6,
                        "a label's score does not depend on the labels scored before it");
            }
            assertTrue(a.labels().stream().allMatch(l -> l.logLikelihood() < 0));
        }
    }

    @Test
    void badInputIsRefusedWithTheReason() throws Exception {
        try (Model model = Model.load(ReferenceLogitsTest.FIXTURES.resolve("llama32-like/model-f32.gguf"))) {
            LabelScorer scorer = new LabelScorer(new CpuForwardPass(model, Backends.kernels()));
            int[] prompt = {1, 30};
            assertEquals("labels: none given; at least one label is needed",
                    assertThrows(IllegalArgumentException.class, () -> scorer.score(prompt, new int[0][])).getMessage());
            assertEquals("labels[1] has no tokens",
                    assertThrows(IllegalArgumentException.class, () -> scorer.score(prompt, new int[][] {{3}, {}})).getMessage());
            assertEquals("labels[0][1] = 256 is outside the vocabulary (0..255)",
                    assertThrows(IllegalArgumentException.class, () -> scorer.score(prompt, new int[][] {{3, 256}})).getMessage());
            assertEquals("prompt is empty; at least one token (e.g. BOS) is needed",
                    assertThrows(IllegalArgumentException.class, () -> scorer.score(new int[0], new int[][] {{3}})).getMessage());
            assertTrue(assertThrows(IllegalArgumentException.class, () -> scorer.score(prompt, new int[][] {new int[33]}))
                    .getMessage().contains("at most 32"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> scorer.score(new int[256], new int[][] {{3, 4}}))
                    .getMessage().contains("exceeds the model's context of 256"));
        }
    }
}
