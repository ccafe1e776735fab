package dev.shardlight.engine.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Model;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Holds the engine to Hugging Face transformers (float32, eager attention) on the committed
 * random-weight fixtures (worker/engine/src/test/python/make_fixtures.py): every fixture x file
 * format x weight type, top-10 logits at every prompt position and the 24-token greedy
 * continuation. Quantized files are compared with goldens computed from their exactly
 * dequantized weights, so the same tight bound applies: the only difference left is float32
 * summation order. A chunk of 7 tokens forces multi-chunk prefill and wraps the sliding-window
 * ring (window 8) many times.
 */
class ReferenceLogitsTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");
    static final float TOLERANCE = 1e-3f;
    /**
     * Q8_0 on these 64-wide fixtures (two blocks per row) flips a lead of up to 0.062 (llama32-like;
     * transformers on the dequantized weights does the same), so the fixture check uses 0.1; the
     * issue's 0.05 bound is held at the real shapes, where rows have 36-240 blocks
     * (FullSizeShapesTest).
     */
    static final float Q8_0_MARGIN = 0.1f;
    /**
     * Q4_0 on these 64-wide fixtures (two blocks per row) flips the reference's top-1 where it led
     * by up to 0.68 (transformers on the dequantized weights agrees: make_fixtures.py goldens), so
     * the check holds Q4_0 to leads above 0.75. Full-size rows have 36-240 blocks and far less noise.
     */
    static final float Q4_0_MARGIN = 0.75f;
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String fixture : List.of("gemma3-1b-like", "gemma3-4b-like", "llama32-like")) {
            out.add(Arguments.of(fixture, "hf-f32", "f32"));
            out.add(Arguments.of(fixture, "hf-bf16", "bf16"));
            out.add(Arguments.of(fixture, "model-f32.gguf", "f32"));
            out.add(Arguments.of(fixture, "model-bf16.gguf", "bf16"));
            out.add(Arguments.of(fixture, "model-q8_0.gguf", "q8_0"));
            out.add(Arguments.of(fixture, "model-q4_0.gguf", "q4_0"));
        }
        return out.stream();
    }

    static JsonNode golden(String fixture) throws IOException {
        return JSON.readTree(FIXTURES.resolve(fixture).resolve("golden.json").toFile());
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesTransformers(String fixture, String file, String variant) throws Exception {
        JsonNode g = golden(fixture);
        try (Model model = Model.load(FIXTURES.resolve(fixture).resolve(file))) {
            // GGUF files trim Gemma's padded vocabulary; their goldens are over the real ids.
            boolean trimmed = g.path("variants").path(variant).path("prompts").path(0).has("top10_text")
                    && file.endsWith(".gguf");
            String topKey = trimmed ? "top10_text" : "top10";
            String greedyKey = trimmed ? "greedy_text" : "greedy";
            for (Kernels kernels : kernelsFor(variant)) {
                CpuForwardPass forward = new CpuForwardPass(model, kernels, 7);
                JsonNode prompts = g.path("prompts");
                for (int p = 0; p < prompts.size(); p++) {
                    int[] ids = ids(prompts.get(p));
                    JsonNode expected = g.path("variants").path(variant).path("prompts").get(p);
                    String where = fixture + "/" + file + " [" + kernels.name() + "] prompt " + p;
                    checkTopLogits(forward, ids, expected.path(topKey), where);
                    assertArrayEquals(ids(expected.path(greedyKey)),
                            greedy(forward, ids, 24, expected.path(greedyKey + "_top10"), where), where + " greedy continuation");
                }
            }
        }
    }

    static Stream<Arguments> quantized() {
        List<Arguments> out = new ArrayList<>();
        for (String fixture : List.of("gemma3-1b-like", "gemma3-4b-like", "llama32-like")) {
            out.add(Arguments.of(fixture, "model-q8_0.gguf", Q8_0_MARGIN));
            out.add(Arguments.of(fixture, "model-q4_0.gguf", Q4_0_MARGIN));
        }
        return out.stream();
    }

    /**
     * Against the float32 reference itself (not the dequantized weights): wherever transformers'
     * top-1 leads by more than the margin, a quantized file must pick the same token (bounds: see
     * Q8_0_MARGIN and Q4_0_MARGIN).
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("quantized")
    void quantizedFilesKeepTheReferenceTop1WhereItsMarginIsClear(String fixture, String file, float margin) throws Exception {
        JsonNode g = golden(fixture);
        try (Model model = Model.load(FIXTURES.resolve(fixture).resolve(file))) {
            boolean trimmed = g.path("variants").path("f32").path("prompts").path(0).has("top10_text");
            CpuForwardPass forward = new CpuForwardPass(model, Backends.kernels());
            int vocab = forward.config().vocab();
            int checked = 0;
            for (int p = 0; p < g.path("prompts").size(); p++) {
                int[] ids = ids(g.path("prompts").get(p));
                JsonNode ref = g.path("variants").path("f32").path("prompts").get(p).path(trimmed ? "top10_text" : "top10");
                float[] logits = new float[ids.length * vocab];
                forward.forward(forward.newCache(ids.length), ids, 0, ids.length, logits, true);
                for (int pos = 0; pos < ids.length; pos++) {
                    JsonNode row = ref.get(pos);
                    if (row.get(0).get(1).asDouble() - row.get(1).get(1).asDouble() > margin) {
                        checked++;
                        assertEquals(row.get(0).get(0).asInt(), Sampler.argmax(logits, pos * vocab, vocab),
                                fixture + "/" + file + " prompt " + p + " pos " + pos);
                    }
                }
            }
            assertTrue(checked >= 5, "too few positions with a clear margin to mean anything: " + checked);
        }
    }

    /** F32 runs on both kernel sets (the scalar reference too); the rest on the default kernels. */
    private static List<Kernels> kernelsFor(String variant) {
        return variant.equals("f32") ? List.of(Backends.kernels(), Backends.create("scalar", 1)) : List.of(Backends.kernels());
    }

    static void checkTopLogits(ForwardPass forward, int[] ids, JsonNode top, String where) {
        int vocab = forward.config().vocab();
        KvCache cache = forward.newCache(ids.length);
        float[] logits = new float[ids.length * vocab];
        forward.forward(cache, ids, 0, ids.length, logits, true);
        assertEquals(ids.length, top.size(), where + ": golden positions");
        for (int pos = 0; pos < ids.length; pos++) {
            JsonNode row = top.get(pos);
            for (JsonNode pair : row) {
                int id = pair.get(0).asInt();
                float want = (float) pair.get(1).asDouble();
                float got = logits[pos * vocab + id];
                assertTrue(Math.abs(got - want) <= TOLERANCE,
                        where + " pos " + pos + " id " + id + ": logit " + got + ", transformers " + want);
            }
            float margin = (float) (row.get(0).get(1).asDouble() - row.get(1).get(1).asDouble());
            if (margin > 2 * TOLERANCE) {
                assertEquals(row.get(0).get(0).asInt(), Sampler.argmax(logits, pos * vocab, vocab), where + " pos " + pos + " top-1");
            }
        }
    }

    /**
     * Argmax decoding that, like the golden, does not stop at EOS; each step's logits (the KV-cache
     * decode path) are held to the golden's top-10 behind that step.
     */
    static int[] greedy(ForwardPass forward, int[] prompt, int n, JsonNode stepTop10, String where) {
        int vocab = forward.config().vocab();
        KvCache cache = forward.newCache(prompt.length + n);
        float[] logits = new float[vocab];
        forward.forward(cache, prompt, 0, prompt.length, logits, false);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            for (JsonNode pair : stepTop10.path(i)) {
                float want = (float) pair.get(1).asDouble();
                float got = logits[pair.get(0).asInt()];
                assertTrue(Math.abs(got - want) <= TOLERANCE,
                        where + " decode step " + i + " id " + pair.get(0).asInt() + ": logit " + got + ", transformers " + want);
            }
            assertEquals(n, stepTop10.size(), where + ": golden decode steps");
            out[i] = Sampler.argmax(logits, 0, vocab);
            if (i + 1 < n) {
                forward.forward(cache, out, i, 1, logits, false);
            }
        }
        return out;
    }

    static int[] ids(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
