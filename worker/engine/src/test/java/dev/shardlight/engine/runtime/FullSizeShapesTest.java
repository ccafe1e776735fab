package dev.shardlight.engine.runtime;

import dev.shardlight.engine.format.GgufFileType;
import dev.shardlight.engine.format.ModelShape;
import dev.shardlight.engine.format.RandomCheckpoint;
import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.tensor.GgmlType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real shapes of Gemma 3 270M, 1B, 4B (text), 12B (text) and Llama 3.2 1B, written with random
 * weights in both formats (GGUF and a Hugging Face directory, sharded where HF shards), load and
 * generate. The two files of one model hold the same weights (same seed), so where the BF16
 * checkpoint's top-1 leads by more than 0.05, a Q8_0 GGUF must agree (the bound, at the
 * real row widths). 4B uses llama.cpp's Q4_K_M mix (Q4_K + Q6_K tensors) and 12B Q4_0.
 *
 * <p>Writes up to ~31 GB (12B BF16 + Q4_0) under java.io.tmpdir, one model at a time, deleted after.
 * Skip with {@code -DexcludedGroups=full-size}; run a subset with {@code -Dshardlight.fullSize.only=NAMES}.
 */
@Tag("full-size")
class FullSizeShapesTest {
    /** Outside target/ so that a concurrent `mvn clean` cannot pull files from under a running test. */
    static final Path DIR = Path.of(System.getProperty("java.io.tmpdir"), "shardlight-full-size");
    static final int PROMPT = 20;
    static final int GENERATE = 3;

    /** {@code -Dshardlight.fullSize.only=gemma3-270m,gemma3-1b} runs a subset. */
    static Stream<Arguments> models() {
        String only = System.getProperty("shardlight.fullSize.only", "");
        return all().filter(a -> only.isBlank()
                || java.util.Arrays.asList(only.split(",")).contains(((ModelShape) a.get()[0]).name()));
    }

    static Stream<Arguments> all() {
        return Stream.of(
                Arguments.of(ModelShape.GEMMA3_270M, GgufFileType.Q8_0, 640, 18, 3, 262144),
                Arguments.of(ModelShape.GEMMA3_1B, GgufFileType.Q8_0, 1152, 26, 4, 262144),
                Arguments.of(ModelShape.LLAMA32_1B, GgufFileType.Q8_0, 2048, 16, 16, 128256),
                Arguments.of(ModelShape.GEMMA3_4B, GgufFileType.Q4_K_M, 2560, 34, 5, 262144),
                Arguments.of(ModelShape.GEMMA3_12B, GgufFileType.Q4_0, 3840, 48, 8, 262144));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void loadsAndGeneratesFromBothFormats(ModelShape shape, GgufFileType ggufType, int hidden, int layers,
                                          int globalLayers, int ggufVocab) throws Exception {
        Path dir = DIR.resolve(shape.name());
        deleteRecursively(dir);
        Files.createDirectories(dir);
        try {
            Path gguf = dir.resolve("model.gguf");
            Path hf = dir.resolve("hf");
            RandomCheckpoint.writeGguf(gguf, shape, ggufType, 1234);
            RandomCheckpoint.writeHuggingFace(hf, shape, GgmlType.BF16, 1234);

            int[] prompt = new int[PROMPT];
            SplittableRandom rnd = new SplittableRandom(5);
            prompt[0] = shape.bosId();
            for (int i = 1; i < PROMPT; i++) {
                prompt[i] = rnd.nextInt(1000, 100_000);
            }
            float[] hfLogits;
            int hfVocab;
            try (Model m = Model.load(hf)) {
                check(m.config(), hidden, layers, globalLayers);
                hfVocab = m.config().vocab();
                assertEquals(shape.embeddingRows(), hfVocab, "HF rows (4B/12B pad to 262208)");
                hfLogits = run(m);
            }
            try (Model m = Model.load(gguf)) {
                check(m.config(), hidden, layers, globalLayers);
                assertEquals(ggufVocab, m.config().vocab(), "GGUF rows (llama.cpp trims Gemma's padding)");
                float[] ggufLogits = run(m);
                if (ggufType == GgufFileType.Q8_0) {
                    int checked = 0;
                    for (int pos = 0; pos < PROMPT; pos++) {
                        int[] top2 = top2(hfLogits, pos * hfVocab, ggufVocab);
                        float margin = hfLogits[pos * hfVocab + top2[0]] - hfLogits[pos * hfVocab + top2[1]];
                        if (margin > 0.05f) {
                            checked++;
                            assertEquals(top2[0], Sampler.argmax(ggufLogits, pos * ggufVocab, ggufVocab),
                                    shape.name() + " pos " + pos + ": BF16 top-1 leads by " + margin);
                        }
                    }
                    assertTrue(checked > 0, "no position with a clear lead");
                }
            }
        } finally {
            deleteRecursively(dir);
        }
    }

    private static void check(ModelConfig c, int hidden, int layers, int globalLayers) {
        assertEquals(hidden, c.hidden());
        assertEquals(layers, c.layers());
        assertEquals(globalLayers, c.globalLayers(), "global (full-attention) layers");
    }

    /** Logits at every prompt position, then a short greedy generation through the Generator. */
    private static float[] run(Model m) {
        CpuForwardPass f = new CpuForwardPass(m, Backends.kernels());
        int vocab = m.config().vocab();
        int[] prompt = new int[PROMPT];
        SplittableRandom rnd = new SplittableRandom(5);
        prompt[0] = m.config().bos();
        for (int i = 1; i < PROMPT; i++) {
            prompt[i] = rnd.nextInt(1000, 100_000);
        }
        float[] logits = new float[PROMPT * vocab];
        f.forward(f.newCache(PROMPT), prompt, 0, PROMPT, logits, true);
        for (float v : logits) {
            assertTrue(Float.isFinite(v), "non-finite logit");
        }
        Generation g = new Generator(f).generate(prompt, GENERATE, SamplingParams.GREEDY, null, null, null);
        assertTrue(g.tokens().length >= 1 && g.tokens().length <= GENERATE);
        for (int t : g.tokens()) {
            assertTrue(t >= 0 && t < vocab);
        }
        return logits;
    }

    private static int[] top2(float[] v, int off, int n) {
        int a = -1;
        int b = -1;
        for (int i = 0; i < n; i++) {
            if (a < 0 || v[off + i] > v[off + a]) {
                b = a;
                a = i;
            } else if (b < 0 || v[off + i] > v[off + b]) {
                b = i;
            }
        }
        return new int[] {a, b};
    }

    static void deleteRecursively(Path p) throws IOException {
        if (Files.exists(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
            }
        }
    }
}
