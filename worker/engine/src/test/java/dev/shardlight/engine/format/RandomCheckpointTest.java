package dev.shardlight.engine.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RandomCheckpointTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Gemma 3 4B's kind (multimodal config, linear rope on global layers, 64 extra HF rows), tiny. */
    private static final ModelShape TINY_GEMMA = ModelShape.GEMMA3_4B.resized("tiny-gemma", 256, 512, 7, 4, 2, 64, 1024);
    private static final ModelShape TINY_LLAMA = ModelShape.LLAMA32_1B.resized("tiny-llama", 256, 512, 8, 4, 2, 64, 1024);

    @TempDir
    Path dir;

    private static float[] ggufRow(GgufFile f, String name, int row) {
        GgufFile.TensorInfo t = f.tensors().get(name);
        int cols = (int) t.dims()[0];
        float[] y = new float[cols];
        Quantizer.decode(t.type(), f.data(t), row * t.type().bytesFor(cols), y, 0, cols);
        return y;
    }

    private static float[] hfRow(RandomWeights w, String ggufName, long row) {
        RandomWeights.Tensor t = w.tensor(ggufName);
        float[] y = new float[t.cols()];
        w.hfRow(t, row, y);
        return y;
    }

    @Test
    void gemmaGgufCarriesTheConverterKeysTensorsAndShiftedNorms() throws IOException {
        Path file = dir.resolve("gemma.gguf");
        RandomCheckpoint.writeGguf(file, TINY_GEMMA, GgmlType.Q8_0, 5);
        RandomWeights w = RandomWeights.of(TINY_GEMMA, 5);
        try (GgufFile f = GgufFile.open(file)) {
            Map<String, Object> m = f.metadata();
            assertEquals("gemma3", m.get("general.architecture"));
            assertEquals(7L, m.get("general.file_type"));
            assertEquals(131072L, m.get("gemma3.context_length"));
            assertEquals(256L, m.get("gemma3.embedding_length"));
            assertEquals(7L, m.get("gemma3.block_count"));
            assertEquals(512L, m.get("gemma3.feed_forward_length"));
            assertEquals(4L, m.get("gemma3.attention.head_count"));
            assertEquals(2L, m.get("gemma3.attention.head_count_kv"));
            assertEquals(64L, m.get("gemma3.attention.key_length"));
            assertEquals(64L, m.get("gemma3.attention.value_length"));
            assertEquals(1e-6f, m.get("gemma3.attention.layer_norm_rms_epsilon"));
            assertEquals(1_000_000f, m.get("gemma3.rope.freq_base"));
            assertEquals(1024L, m.get("gemma3.attention.sliding_window"));
            assertEquals("linear", m.get("gemma3.rope.scaling.type"));
            assertEquals(8f, m.get("gemma3.rope.scaling.factor"));
            assertEquals("llama", m.get("tokenizer.ggml.model"));
            List<?> tokens = (List<?>) m.get("tokenizer.ggml.tokens");
            assertEquals(1024, tokens.size());
            assertEquals(List.of("<pad>", "<eos>", "<bos>", "<unk>"), tokens.subList(0, 4));
            assertEquals("<start_of_turn>", tokens.get(105));
            assertEquals("<end_of_turn>", tokens.get(106));
            assertEquals("<0x41>", tokens.get(SyntheticVocabulary.GEMMA_BYTE_PIECES + 0x41));
            assertEquals(3L, ((long[]) m.get("tokenizer.ggml.token_type"))[2]);
            assertEquals(2L, m.get("tokenizer.ggml.bos_token_id"));
            assertEquals(1L, m.get("tokenizer.ggml.eos_token_id"));
            assertEquals(false, m.get("tokenizer.ggml.add_space_prefix"));
            assertTrue(((String) m.get("tokenizer.chat_template")).startsWith("{{ bos_token }}"));

            assertEquals(1 + 7 * 13 + 1, f.tensors().size());
            GgufFile.TensorInfo embd = f.tensors().get("token_embd.weight");
            assertEquals(GgmlType.Q8_0, embd.type());
            assertArrayEquals(new long[] {256, 1024}, embd.dims(), "trimmed to the vocabulary (HF has 1088 rows)");
            assertArrayEquals(new long[] {64}, f.tensors().get("blk.3.attn_k_norm.weight").dims());
            assertEquals(GgmlType.F32, f.tensors().get("blk.3.post_ffw_norm.weight").type());
            assertArrayEquals(new long[] {512, 256}, f.tensors().get("blk.6.ffn_down.weight").dims());

            float[] hfNorm = hfRow(w, "blk.2.ffn_norm.weight", 0);
            float[] ggufNorm = ggufRow(f, "blk.2.ffn_norm.weight", 0);
            for (int i = 0; i < hfNorm.length; i++) {
                assertEquals(1f + hfNorm[i], ggufNorm[i], "llama.cpp bakes Gemma's 1 + w into the norm");
                assertTrue(Math.abs(hfNorm[i]) <= 0.1f);
            }
            float[] hfEmbd = hfRow(w, "token_embd.weight", 777);
            float[] ggufEmbd = ggufRow(f, "token_embd.weight", 777);
            float amax = 0;
            for (float v : hfEmbd) {
                amax = Math.max(amax, Math.abs(v));
            }
            for (int i = 0; i < hfEmbd.length; i++) {
                assertEquals(hfEmbd[i], ggufEmbd[i], amax / 127 * 0.6f, "Q8_0 of the same weights");
            }
        }
    }

    @Test
    void llamaGgufPermutesQueryAndKeyRowsAndCarriesRopeFreqs() throws IOException {
        Path file = dir.resolve("llama.gguf");
        RandomCheckpoint.writeGguf(file, TINY_LLAMA, GgmlType.F32, 9);
        RandomWeights w = RandomWeights.of(TINY_LLAMA, 9);
        try (GgufFile f = GgufFile.open(file)) {
            // Head dim 64: GGUF row 2i+j of a head is HF row j*32+i of that head.
            assertArrayEquals(hfRow(w, "blk.1.attn_q.weight", 0), ggufRow(f, "blk.1.attn_q.weight", 0));
            assertArrayEquals(hfRow(w, "blk.1.attn_q.weight", 32), ggufRow(f, "blk.1.attn_q.weight", 1));
            assertArrayEquals(hfRow(w, "blk.1.attn_q.weight", 1), ggufRow(f, "blk.1.attn_q.weight", 2));
            assertArrayEquals(hfRow(w, "blk.1.attn_k.weight", 64 + 32 + 5), ggufRow(f, "blk.1.attn_k.weight", 64 + 11));
            assertArrayEquals(hfRow(w, "blk.1.attn_v.weight", 75), ggufRow(f, "blk.1.attn_v.weight", 75), "V is not permuted");
            assertArrayEquals(hfRow(w, "blk.0.ffn_norm.weight", 0), ggufRow(f, "blk.0.ffn_norm.weight", 0), "Llama norms unshifted");
            assertArrayEquals(RandomCheckpoint.llama3RopeDivisors(TINY_LLAMA), ggufRow(f, "rope_freqs.weight", 0));

            Map<String, Object> m = f.metadata();
            assertEquals("llama", m.get("general.architecture"));
            assertEquals(64L, m.get("llama.rope.dimension_count"));
            assertEquals(500000f, m.get("llama.rope.freq_base"));
            assertEquals(1e-5f, m.get("llama.attention.layer_norm_rms_epsilon"));
            assertEquals("gpt2", m.get("tokenizer.ggml.model"));
            assertEquals("llama-bpe", m.get("tokenizer.ggml.pre"));
            List<?> tokens = (List<?>) m.get("tokenizer.ggml.tokens");
            assertEquals("!", tokens.get(0));
            assertEquals("Ā", tokens.get(188), "byte 0");
            assertEquals("Ġ", tokens.get(188 + 32), "space");
            assertEquals("<|begin_of_text|>", tokens.get(768));
            assertEquals("<|eot_id|>", tokens.get(777));
            assertEquals("<|reserved_special_token_247|>", tokens.get(1023));
            assertEquals(768L, m.get("tokenizer.ggml.bos_token_id"));
            assertEquals(777L, m.get("tokenizer.ggml.eos_token_id"));
            assertEquals(List.of(), m.get("tokenizer.ggml.merges"));
        }
    }

    @Test
    void llama32RopeFreqsAreLlamaCppsDivisors() {
        float[] d = RandomCheckpoint.llama3RopeDivisors(ModelShape.LLAMA32_1B);
        assertEquals(32, d.length);
        for (int i = 0; i <= 14; i++) {
            assertEquals(1f, d[i], "high-frequency band " + i);
        }
        assertEquals(1.6513f, d[15], 1e-4f);
        assertEquals(3.2923f, d[16], 1e-4f);
        assertEquals(9.6667f, d[17], 1e-4f);
        for (int i = 18; i < 32; i++) {
            assertEquals(32f, d[i], "low-frequency band " + i);
        }
    }

    @Test
    void q4KMMixUsesQ6KWhereLlamaQuantizeDoes() throws IOException {
        Path file = dir.resolve("q4km.gguf");
        RandomCheckpoint.writeGguf(file, TINY_LLAMA, GgufFileType.Q4_K_M, 1);
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(15L, f.metadata().get("general.file_type"));
            assertEquals(GgmlType.Q6_K, f.tensors().get("token_embd.weight").type(), "tied embeddings are the output");
            // 8 layers: use_more_bits picks layers 0, 3, 6 and 7.
            for (int l = 0; l < 8; l++) {
                GgmlType more = List.of(0, 3, 6, 7).contains(l) ? GgmlType.Q6_K : GgmlType.Q4_K;
                assertEquals(more, f.tensors().get("blk." + l + ".attn_v.weight").type(), "attn_v " + l);
                assertEquals(more, f.tensors().get("blk." + l + ".ffn_down.weight").type(), "ffn_down " + l);
                assertEquals(GgmlType.Q4_K, f.tensors().get("blk." + l + ".attn_q.weight").type());
                assertEquals(GgmlType.F32, f.tensors().get("blk." + l + ".attn_norm.weight").type());
            }
            RandomWeights w = RandomWeights.of(TINY_LLAMA, 1);
            float[] hf = hfRow(w, "blk.2.ffn_up.weight", 3);
            float[] q = ggufRow(f, "blk.2.ffn_up.weight", 3);
            double err = 0;
            double ref = 0;
            for (int i = 0; i < hf.length; i++) {
                err += (hf[i] - q[i]) * (hf[i] - q[i]);
                ref += hf[i] * hf[i];
            }
            assertTrue(Math.sqrt(err / ref) < 0.15, "Q4_K blocks approximate the same weights");
        }
    }

    @Test
    void huggingFaceCheckpointHoldsTheSameWeightsUnderPublishedNames() throws IOException {
        Path hf = dir.resolve("hf");
        List<Path> files = RandomCheckpoint.writeHuggingFace(hf, TINY_GEMMA, GgmlType.BF16, 5, 1_000_000, 2);
        assertEquals(hf.resolve("config.json"), files.getFirst());
        assertTrue(files.contains(hf.resolve("model.safetensors.index.json")), "over the 1 MB test limit: sharded");

        JsonNode config = JSON.readTree(hf.resolve("config.json").toFile());
        assertEquals("Gemma3ForConditionalGeneration", config.get("architectures").get(0).asText());
        assertEquals("gemma3", config.get("model_type").asText());
        assertEquals("bfloat16", config.get("torch_dtype").asText());
        JsonNode text = config.get("text_config");
        assertEquals(256, text.get("hidden_size").asInt());
        assertEquals(4, text.get("num_attention_heads").asInt(), "not the default 8, so written");
        assertEquals(1088, text.get("vocab_size").asInt());
        assertEquals("linear", text.get("rope_scaling").get("rope_type").asText());

        JsonNode weightMap = JSON.readTree(hf.resolve("model.safetensors.index.json").toFile()).get("weight_map");
        assertEquals(1 + 7 * 13 + 1, weightMap.size());
        String embedFile = weightMap.get("language_model.model.embed_tokens.weight").asText();
        JsonNode header = header(hf.resolve(embedFile));
        assertEquals("[1088,256]", header.get("language_model.model.embed_tokens.weight").get("shape").toString());

        RandomWeights w = RandomWeights.of(TINY_GEMMA, 5);
        String normName = "language_model.model.layers.4.post_attention_layernorm.weight";
        ByteBuffer norm = tensorBytes(hf.resolve(weightMap.get(normName).asText()), normName);
        float[] expected = hfRow(w, "blk.4.post_attention_norm.weight", 0);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], Quantizer.bf16ToFloat(norm.getShort(2 * i)), "bf16 holds the weights exactly");
        }
        String lastRow = "language_model.model.embed_tokens.weight";
        ByteBuffer embd = tensorBytes(hf.resolve(embedFile), lastRow);
        float[] padRow = hfRow(w, "token_embd.weight", 1087);
        assertEquals(padRow[17], Quantizer.bf16ToFloat(embd.getShort(2 * (1087 * 256 + 17))), "the 64 rows past the vocabulary exist");
    }

    private static JsonNode header(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
    }

    private static ByteBuffer tensorBytes(Path file, String name) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        JsonNode offsets = JSON.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8)).get(name).get("data_offsets");
        int begin = (int) (8 + n + offsets.get(0).asLong());
        int end = (int) (8 + n + offsets.get(1).asLong());
        return ByteBuffer.wrap(all, begin, end - begin).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void presetsHaveThePublishedSizes() {
        assertEquals(List.of("gemma3-12b", "gemma3-1b", "gemma3-270m", "gemma3-4b", "llama3.2-1b"), ModelShape.presetNames());
        assertEquals(268_098_176L, ModelShape.GEMMA3_270M.parameterCount(true));
        assertEquals(999_885_952L, ModelShape.GEMMA3_1B.parameterCount(true));
        assertEquals(3_880_263_168L, ModelShape.GEMMA3_4B.parameterCount(true));
        assertEquals(11_766_034_176L, ModelShape.GEMMA3_12B.parameterCount(true));
        assertEquals(1_235_814_400L, ModelShape.LLAMA32_1B.parameterCount(true));
        assertEquals(List.of(5, 11, 17, 23, 29), java.util.stream.IntStream.range(0, 34)
                .filter(l -> !ModelShape.GEMMA3_4B.isSlidingLayer(l)).boxed().toList());
    }

    @Test
    void configJsonIsThePublishedOne() {
        assertEquals("""
                {
                  "architectures": [
                    "Gemma3ForCausalLM"
                  ],
                  "attention_bias": false,
                  "attention_dropout": 0.0,
                  "attn_logit_softcapping": null,
                  "bos_token_id": 2,
                  "cache_implementation": "hybrid",
                  "eos_token_id": [
                    1,
                    106
                  ],
                  "final_logit_softcapping": null,
                  "head_dim": 256,
                  "hidden_activation": "gelu_pytorch_tanh",
                  "hidden_size": 1152,
                  "initializer_range": 0.02,
                  "intermediate_size": 6912,
                  "max_position_embeddings": 32768,
                  "model_type": "gemma3_text",
                  "num_attention_heads": 4,
                  "num_hidden_layers": 26,
                  "num_key_value_heads": 1,
                  "pad_token_id": 0,
                  "query_pre_attn_scalar": 256,
                  "rms_norm_eps": 1e-06,
                  "rope_local_base_freq": 10000,
                  "rope_scaling": null,
                  "rope_theta": 1000000,
                  "sliding_window": 512,
                  "sliding_window_pattern": 6,
                  "torch_dtype": "bfloat16",
                  "transformers_version": "4.50.0.dev0",
                  "use_cache": true,
                  "vocab_size": 262144
                }""", PythonJson.pretty(HuggingFaceConfig.of(ModelShape.GEMMA3_1B, GgmlType.BF16)));
        JsonNode gemma12b = json(ModelShape.GEMMA3_12B);
        assertEquals("{\"hidden_size\":3840,\"intermediate_size\":15360,\"model_type\":\"gemma3_text\","
                + "\"num_attention_heads\":16,\"num_hidden_layers\":48,\"num_key_value_heads\":8,"
                + "\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"linear\"},\"sliding_window\":1024}",
                gemma12b.get("text_config").toString());
        assertEquals("{\"hidden_size\":2560,\"intermediate_size\":10240,\"model_type\":\"gemma3_text\","
                + "\"num_hidden_layers\":34,\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"linear\"},\"sliding_window\":1024}",
                json(ModelShape.GEMMA3_4B).get("text_config").toString());
        assertEquals(262144, gemma12b.get("image_token_index").asInt());
        assertEquals(27, gemma12b.get("vision_config").get("num_hidden_layers").asInt());
        JsonNode small = json(ModelShape.GEMMA3_270M);
        assertEquals(18, small.get("layer_types").size());
        assertEquals("full_attention", small.get("layer_types").get(5).asText());
        assertEquals(1, small.get("eos_token_id").asInt());
        JsonNode llama = json(ModelShape.LLAMA32_1B);
        assertEquals("{\"factor\":32.0,\"high_freq_factor\":4.0,\"low_freq_factor\":1.0,"
                + "\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"}", llama.get("rope_scaling").toString());
        assertEquals("[128001,128008,128009]", llama.get("eos_token_id").toString());
        assertEquals(128256, llama.get("vocab_size").asInt());
    }

    private static JsonNode json(ModelShape shape) {
        try {
            return JSON.readTree(PythonJson.pretty(HuggingFaceConfig.of(shape, GgmlType.BF16)));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void linearWeightsHaveUnitGainScale() {
        RandomWeights w = RandomWeights.of(ModelShape.GEMMA3_1B, 3);
        RandomWeights.Tensor down = w.tensor("blk.0.ffn_down.weight");
        float[] row = new float[down.cols()];
        double sum = 0;
        double sq = 0;
        for (int r = 0; r < 16; r++) {
            w.hfRow(down, r, row);
            for (float v : row) {
                sum += v;
                sq += v * v;
            }
        }
        int n = 16 * down.cols();
        assertEquals(0, sum / n, 1e-3);
        assertEquals(1 / Math.sqrt(6912), Math.sqrt(sq / n), 0.02 / Math.sqrt(6912));
        float[] again = new float[down.cols()];
        w.hfRow(down, 15, again);
        assertArrayEquals(row, again, "a pure function of (seed, tensor, row)");
        RandomWeights other = RandomWeights.of(ModelShape.GEMMA3_1B, 4);
        other.hfRow(other.tensor("blk.0.ffn_down.weight"), 15, again);
        assertTrue(row[0] != again[0] || row[1] != again[1], "another seed, other weights");
    }
}
