package dev.shardlight.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.format.ModelFormatException;
import dev.shardlight.engine.format.SafetensorsCheckpoint;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a model from a Hugging Face checkpoint: config.json read with the defaults of
 * transformers' Gemma3TextConfig / LlamaConfig for absent keys (published Gemma 3 4B/12B configs
 * rely on them), and tensors by their transformers names. Multimodal Gemma 3 checkpoints
 * (Gemma3ForConditionalGeneration) contribute their text decoder; vision weights are ignored.
 */
final class HuggingFaceModelReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Where transformers versions put the text decoder: plain, published multimodal, 4.52+ multimodal. */
    private static final List<String> PREFIXES = List.of("model.", "language_model.model.", "model.language_model.");

    private HuggingFaceModelReader() {
    }

    static Model read(Path dir, SafetensorsCheckpoint ckpt) throws IOException {
        JsonNode root = JSON.readTree(dir.resolve("config.json").toFile());
        String modelType = root.path("model_type").asText("");
        JsonNode cfg = root.has("text_config") ? root.get("text_config") : root;
        Architecture a = switch (modelType) {
            case "gemma3", "gemma3_text" -> Architecture.GEMMA3;
            case "llama" -> Architecture.LLAMA;
            default -> throw new ModelFormatException(dir + "/config.json: model_type \"" + modelType
                    + "\" (architectures " + root.path("architectures") + ") is not supported; supported: gemma3, gemma3_text, llama");
        };
        boolean g = a == Architecture.GEMMA3;
        // Defaults: transformers Gemma3TextConfig / LlamaConfig __init__.
        int hidden = cfg.path("hidden_size").asInt(g ? 2304 : 4096);
        int intermediate = cfg.path("intermediate_size").asInt(g ? 9216 : 11008);
        int layers = cfg.path("num_hidden_layers").asInt(g ? 26 : 32);
        int heads = cfg.path("num_attention_heads").asInt(g ? 8 : 32);
        int kvHeads = cfg.path("num_key_value_heads").asInt(g ? 4 : heads);
        int headDim = cfg.hasNonNull("head_dim") ? cfg.get("head_dim").asInt() : g ? 256 : hidden / heads;
        int context = cfg.path("max_position_embeddings").asInt(g ? 131072 : 2048);
        float eps = (float) cfg.path("rms_norm_eps").asDouble(1e-6);
        if (!g && !cfg.has("rms_norm_eps")) {
            eps = 1e-6f;
        }
        if (g && (cfg.hasNonNull("final_logit_softcapping") || cfg.hasNonNull("attn_logit_softcapping"))) {
            throw new ModelFormatException(dir + "/config.json: logit softcapping (Gemma 2 style) is not supported");
        }

        boolean[] sliding = new boolean[layers];
        int window = 0;
        float[][] invFreq = new float[layers][];
        float attnScale;
        float embedScale = 1f;
        JsonNode ropeParams = cfg.path("rope_parameters");
        if (g) {
            window = cfg.path("sliding_window").asInt(4096);
            JsonNode types = cfg.path("layer_types");
            int pattern = cfg.path("sliding_window_pattern").asInt(cfg.path("_sliding_window_pattern").asInt(6));
            for (int l = 0; l < layers; l++) {
                sliding[l] = types.isArray() && types.size() == layers
                        ? "sliding_attention".equals(types.get(l).asText())
                        : (l + 1) % pattern != 0;
            }
            JsonNode full = ropeParams.has("full_attention") ? ropeParams.get("full_attention") : null;
            JsonNode local = ropeParams.has("sliding_attention") ? ropeParams.get("sliding_attention") : null;
            float[] globalFreq = frequencies(dir, full != null ? full : cfg.path("rope_scaling"),
                    full != null ? full.path("rope_theta").asDouble(1_000_000) : cfg.path("rope_theta").asDouble(1_000_000), headDim);
            float[] localFreq = frequencies(dir, local, local != null ? local.path("rope_theta").asDouble(10_000)
                    : cfg.path("rope_local_base_freq").asDouble(10_000), headDim);
            for (int l = 0; l < layers; l++) {
                invFreq[l] = sliding[l] ? localFreq : globalFreq;
            }
            attnScale = (float) Math.pow(cfg.path("query_pre_attn_scalar").asDouble(256), -0.5);
            embedScale = (float) Math.sqrt(hidden);
        } else {
            JsonNode scaling = ropeParams.isObject() && ropeParams.size() > 0 ? ropeParams : cfg.path("rope_scaling");
            double theta = ropeParams.has("rope_theta") ? ropeParams.get("rope_theta").asDouble() : cfg.path("rope_theta").asDouble(10_000);
            java.util.Arrays.fill(invFreq, frequencies(dir, scaling, theta, headDim));
            attnScale = (float) (1.0 / Math.sqrt(headDim));
        }

        String prefix = PREFIXES.stream().filter(px -> ckpt.tensors().containsKey(px + "embed_tokens.weight")).findFirst()
                .orElseThrow(() -> new ModelFormatException(dir + ": no embed_tokens.weight under any of " + PREFIXES));
        WeightMatrix embedding = ckpt.matrix(prefix + "embed_tokens.weight");
        int vocab = embedding.rows();
        int configVocab = cfg.path("vocab_size").asInt(vocab);
        if (configVocab != vocab) {
            throw new ModelFormatException(dir + ": embed_tokens has " + vocab + " rows but vocab_size is " + configVocab);
        }
        Shapes.expect(dir, embedding, vocab, hidden);
        String head = prefix.equals("language_model.model.") ? "language_model.lm_head.weight" : "lm_head.weight";
        boolean tied = cfg.path("tie_word_embeddings").asBoolean(root.path("tie_word_embeddings").asBoolean(g));
        WeightMatrix output = !tied && ckpt.tensors().containsKey(head)
                ? Shapes.expect(dir, ckpt.matrix(head), vocab, hidden) : embedding;
        if (!tied && output == embedding) {
            throw new ModelFormatException(dir + ": tie_word_embeddings is false but " + head + " is missing");
        }

        int qDim = heads * headDim;
        int kvDim = kvHeads * headDim;
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String b = prefix + "layers." + l + ".";
            lw[l] = new LayerWeights(
                    vector(ckpt, b + "input_layernorm.weight", hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "self_attn.q_proj.weight"), qDim, hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "self_attn.k_proj.weight"), kvDim, hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "self_attn.v_proj.weight"), kvDim, hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "self_attn.o_proj.weight"), hidden, qDim),
                    g ? vector(ckpt, b + "self_attn.q_norm.weight", headDim) : null,
                    g ? vector(ckpt, b + "self_attn.k_norm.weight", headDim) : null,
                    g ? vector(ckpt, b + "post_attention_layernorm.weight", hidden) : null,
                    vector(ckpt, b + (g ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "mlp.gate_proj.weight"), intermediate, hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "mlp.up_proj.weight"), intermediate, hidden),
                    Shapes.expect(dir, ckpt.matrix(b + "mlp.down_proj.weight"), hidden, intermediate),
                    g ? vector(ckpt, b + "post_feedforward_layernorm.weight", hidden) : null);
        }
        float[] outputNorm = vector(ckpt, prefix + "norm.weight", hidden);

        int bos = root.path("bos_token_id").asInt(cfg.path("bos_token_id").asInt(g ? 2 : 1));
        Set<Integer> eos = new LinkedHashSet<>();
        addIds(eos, root.path("eos_token_id"));
        addIds(eos, cfg.path("eos_token_id"));
        Path genConfig = dir.resolve("generation_config.json");
        if (Files.isRegularFile(genConfig)) {
            addIds(eos, JSON.readTree(genConfig.toFile()).path("eos_token_id"));
        }
        if (eos.isEmpty()) {
            eos.add(g ? 1 : 2);
        }
        ModelConfig config = new ModelConfig(a, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, context,
                eps, sliding, window, invFreq, true, attnScale, embedScale, g ? 1f : 0f, bos,
                eos.stream().mapToInt(Integer::intValue).toArray(), "hf " + dir.getFileName());
        return new Model(dir, config, new ModelWeights(embedding, lw, outputNorm, output), ckpt, Map.of());
    }

    /** inv_freq for a rope_scaling / rope_parameters block (null or {} = default). */
    private static float[] frequencies(Path dir, JsonNode scaling, double theta, int headDim) {
        String type = scaling == null || !scaling.isObject() ? "default"
                : scaling.path("rope_type").asText(scaling.path("type").asText("default"));
        return switch (type) {
            case "default" -> RopeFrequencies.base(theta, headDim);
            case "linear" -> RopeFrequencies.linear(theta, headDim, scaling.path("factor").asDouble(1.0));
            case "llama3" -> RopeFrequencies.llama3(theta, headDim, scaling.path("factor").asDouble(),
                    scaling.path("low_freq_factor").asDouble(), scaling.path("high_freq_factor").asDouble(),
                    scaling.path("original_max_position_embeddings").asDouble());
            default -> throw new ModelFormatException(dir + "/config.json: rope type \"" + type
                    + "\" is not supported (default, linear, llama3 are)");
        };
    }

    private static void addIds(Set<Integer> out, JsonNode n) {
        if (n.isInt()) {
            out.add(n.asInt());
        } else if (n.isArray()) {
            n.forEach(x -> out.add(x.asInt()));
        }
    }

    private static float[] vector(SafetensorsCheckpoint c, String name, int n) {
        SafetensorsCheckpoint.Tensor t = c.tensor(name);
        return Shapes.expect(c.dir(), name, TensorVectors.read(name, t.type(), t.data(), (int) t.elements()), n);
    }
}
