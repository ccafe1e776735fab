package dev.shardlight.engine.model;

import dev.shardlight.engine.format.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Files that cannot be served fail at load time with a message naming the file and the item. */
class ModelLoadingErrorsTest {
    static final Path GEMMA = Path.of("src/test/resources/fixtures/gemma3-1b-like");

    private static Path copyHf(Path tmp, String configFrom, String configTo) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Files.copy(GEMMA.resolve("hf-f32/model.safetensors"), dir.resolve("model.safetensors"));
        String config = Files.readString(GEMMA.resolve("hf-f32/config.json"));
        assertTrue(config.contains(configFrom), "fixture config should contain " + configFrom);
        Files.writeString(dir.resolve("config.json"), config.replace(configFrom, configTo));
        return dir;
    }

    @Test
    void unknownArchitectureIsNamed() throws Exception {
        Path dir = copyHf(Files.createTempDirectory("sl"), "\"gemma3_text\"", "\"mistral\"");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(dir));
        assertTrue(e.getMessage().contains("\"mistral\"") && e.getMessage().contains("not supported"), e.getMessage());
    }

    @Test
    void shapeDisagreeingWithTheConfigNamesTensorAndBothShapes(@TempDir Path tmp) throws Exception {
        Path dir = copyHf(tmp, "\"intermediate_size\": 128", "\"intermediate_size\": 96");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(dir));
        assertTrue(e.getMessage().contains("mlp.gate_proj.weight") && e.getMessage().contains("[128 x 64]")
                && e.getMessage().contains("[96 x 64]"), e.getMessage());
    }

    @Test
    void missingTensorIsNamed(@TempDir Path tmp) throws Exception {
        Path dir = copyHf(tmp, "\"num_hidden_layers\": 7", "\"num_hidden_layers\": 8");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(dir));
        assertTrue(e.getMessage().contains("model.layers.7.input_layernorm.weight") && e.getMessage().contains("missing"),
                e.getMessage());
    }

    @Test
    void truncatedGgufIsRefusedBeforeCompute(@TempDir Path tmp) throws Exception {
        byte[] all = Files.readAllBytes(GEMMA.resolve("model-q8_0.gguf"));
        Path cut = tmp.resolve("cut.gguf");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 1000));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(cut));
        assertTrue(e.getMessage().contains("outside the file"), e.getMessage());
    }

    @Test
    void notAGgufFileSaysSo(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("x.gguf");
        Files.writeString(f, "definitely not a model file, just text that is long enough");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(f));
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
    }

    @Test
    void ggufAndHuggingFaceFilesOfOneModelReadTheSameConfiguration() throws Exception {
        try (Model hf = Model.load(GEMMA.resolve("hf-f32")); Model gguf = Model.load(GEMMA.resolve("model-f32.gguf"))) {
            ModelConfig a = hf.config();
            ModelConfig b = gguf.config();
            assertEquals(a.hidden(), b.hidden());
            assertEquals(a.layers(), b.layers());
            assertEquals(a.headDim(), b.headDim());
            assertEquals(a.kvHeads(), b.kvHeads());
            assertEquals(a.slidingWindow(), b.slidingWindow());
            assertTrue(java.util.Arrays.equals(a.sliding(), b.sliding()));
            assertEquals(1f, a.normWeightOffset(), "HF Gemma stores zero-centred norms: (1 + w)");
            assertEquals(0f, b.normWeightOffset(), "llama.cpp's converter baked the +1 into GGUF norms");
            for (int l = 0; l < a.layers(); l++) {
                assertTrue(java.util.Arrays.equals(a.invFreq()[l], b.invFreq()[l]), "layer " + l + " RoPE frequencies");
            }
        }
    }
}
