package dev.shardlight.engine.format;

import dev.shardlight.engine.model.Architecture;
import dev.shardlight.engine.tensor.GgmlType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * config.json as published on the Hugging Face Hub for each preset (keys and value types as in
 * the published files; key order and layout are those of transformers' {@code to_json_string},
 * applied by {@link PythonJson#pretty}).
 *
 * <ul>
 *   <li>Gemma 3 270M (transformers 4.55 export): Gemma3ForCausalLM / gemma3_text with
 *       {@code layer_types}, {@code _sliding_window_pattern}, {@code use_bidirectional_attention}.</li>
 *   <li>Gemma 3 1B (4.50 export): Gemma3ForCausalLM / gemma3_text with {@code sliding_window_pattern},
 *       {@code cache_implementation "hybrid"}, integer rope bases.</li>
 *   <li>Gemma 3 4B/12B: Gemma3ForConditionalGeneration / gemma3 whose {@code text_config} lists only
 *       what differs from Gemma3TextConfig's defaults (vocab_size 262208, 8 heads, 4 kv heads,
 *       head_dim 256, max_position_embeddings 131072, rope_theta 1e6, rope_local_base_freq 1e4,
 *       query_pre_attn_scalar 256, rms_norm_eps 1e-6), so readers must apply those defaults.</li>
 *   <li>Llama 3.2 1B Instruct (4.45 export): LlamaForCausalLM / llama.</li>
 * </ul>
 */
final class HuggingFaceConfig {

    private HuggingFaceConfig() {
    }

    static Map<String, Object> of(ModelShape s, GgmlType dtype) {
        if (s.architecture() == Architecture.LLAMA) {
            return llama(s, dtype);
        }
        return s.multimodal() ? gemmaMultimodal(s, dtype) : gemmaText(s, dtype);
    }

    static String torchDtype(GgmlType dtype) {
        return switch (dtype) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            default -> throw new IllegalArgumentException("no torch dtype for " + dtype);
        };
    }

    private static Object eos(ModelShape s) {
        return s.eosIds().size() == 1 ? (Object) s.eosIds().getFirst() : s.eosIds();
    }

    private static boolean layerTypesExport(ModelShape s) {
        // transformers 4.53 started writing layer_types (and the private _sliding_window_pattern).
        String[] v = s.transformersVersion().split("\\.");
        return Integer.parseInt(v[0]) > 4 || Integer.parseInt(v[1]) >= 53;
    }

    private static Map<String, Object> gemmaText(ModelShape s, GgmlType dtype) {
        boolean newer = layerTypesExport(s);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("Gemma3ForCausalLM"));
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("attn_logit_softcapping", null);
        c.put("bos_token_id", s.bosId());
        c.put("eos_token_id", eos(s));
        c.put("final_logit_softcapping", null);
        c.put("head_dim", s.headDim());
        c.put("hidden_activation", "gelu_pytorch_tanh");
        c.put("hidden_size", s.hiddenSize());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediateSize());
        c.put("max_position_embeddings", s.contextLength());
        c.put("model_type", "gemma3_text");
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("pad_token_id", s.padId());
        c.put("query_pre_attn_scalar", s.queryPreAttnScalar());
        c.put("rms_norm_eps", s.rmsNormEps());
        c.put("rope_local_base_freq", newer ? (Object) s.ropeLocalTheta() : (Object) (long) s.ropeLocalTheta());
        c.put("rope_scaling", linearScaling(s));
        c.put("rope_theta", newer ? (Object) s.ropeTheta() : (Object) (long) s.ropeTheta());
        c.put("sliding_window", s.slidingWindow());
        c.put("torch_dtype", torchDtype(dtype));
        c.put("transformers_version", s.transformersVersion());
        c.put("use_cache", true);
        c.put("vocab_size", s.embeddingRows());
        if (newer) {
            c.put("_sliding_window_pattern", 6);
            c.put("layer_types", s.layerTypes());
            c.put("use_bidirectional_attention", false);
        } else {
            c.put("cache_implementation", "hybrid");
            c.put("sliding_window_pattern", 6);
        }
        return c;
    }

    private static Map<String, Object> linearScaling(ModelShape s) {
        if (s.linearRopeFactor() == 1.0) {
            return null;
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("factor", s.linearRopeFactor());
        r.put("rope_type", "linear");
        return r;
    }

    private static Map<String, Object> gemmaMultimodal(ModelShape s, GgmlType dtype) {
        Map<String, Object> text = new LinkedHashMap<>();
        text.put("hidden_size", s.hiddenSize());
        text.put("intermediate_size", s.intermediateSize());
        text.put("model_type", "gemma3_text");
        text.put("num_hidden_layers", s.layers());
        text.put("rope_scaling", linearScaling(s));
        text.put("sliding_window", s.slidingWindow());
        putIfNotDefault(text, "num_attention_heads", s.heads(), 8);
        putIfNotDefault(text, "num_key_value_heads", s.kvHeads(), 4);
        putIfNotDefault(text, "head_dim", s.headDim(), 256);
        putIfNotDefault(text, "vocab_size", s.embeddingRows(), 262208);
        putIfNotDefault(text, "max_position_embeddings", s.contextLength(), 131072);
        putIfNotDefault(text, "query_pre_attn_scalar", s.queryPreAttnScalar(), 256);
        putIfNotDefault(text, "rms_norm_eps", s.rmsNormEps(), 1e-6);
        putIfNotDefault(text, "rope_theta", s.ropeTheta(), 1_000_000.0);
        putIfNotDefault(text, "rope_local_base_freq", s.ropeLocalTheta(), 10_000.0);
        Map<String, Object> vision = new LinkedHashMap<>();
        vision.put("hidden_size", 1152);
        vision.put("image_size", 896);
        vision.put("intermediate_size", 4304);
        vision.put("model_type", "siglip_vision_model");
        vision.put("num_attention_heads", 16);
        vision.put("num_hidden_layers", 27);
        vision.put("patch_size", 14);
        vision.put("vision_use_head", false);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("Gemma3ForConditionalGeneration"));
        c.put("boi_token_index", 255999);
        c.put("eoi_token_index", 256000);
        c.put("eos_token_id", eos(s));
        c.put("image_token_index", 262144);
        c.put("initializer_range", 0.02);
        c.put("mm_tokens_per_image", 256);
        c.put("model_type", "gemma3");
        c.put("text_config", text);
        c.put("torch_dtype", torchDtype(dtype));
        c.put("transformers_version", s.transformersVersion());
        c.put("vision_config", vision);
        return c;
    }

    private static void putIfNotDefault(Map<String, Object> m, String key, Object value, Object dflt) {
        if (!value.equals(dflt)) {
            m.put(key, value);
        }
    }

    private static Map<String, Object> llama(ModelShape s, GgmlType dtype) {
        ModelShape.Llama3Rope r = s.llama3Rope();
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("LlamaForCausalLM"));
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", s.bosId());
        c.put("eos_token_id", eos(s));
        c.put("head_dim", s.headDim());
        c.put("hidden_act", "silu");
        c.put("hidden_size", s.hiddenSize());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediateSize());
        c.put("max_position_embeddings", s.contextLength());
        c.put("mlp_bias", false);
        c.put("model_type", "llama");
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("pretraining_tp", 1);
        c.put("rms_norm_eps", s.rmsNormEps());
        if (r != null) {
            Map<String, Object> scaling = new LinkedHashMap<>();
            scaling.put("factor", r.factor());
            scaling.put("high_freq_factor", r.highFreqFactor());
            scaling.put("low_freq_factor", r.lowFreqFactor());
            scaling.put("original_max_position_embeddings", r.originalContextLength());
            scaling.put("rope_type", "llama3");
            c.put("rope_scaling", scaling);
        } else {
            c.put("rope_scaling", null);
        }
        c.put("rope_theta", s.ropeTheta());
        c.put("tie_word_embeddings", true);
        c.put("torch_dtype", torchDtype(dtype));
        c.put("transformers_version", s.transformersVersion());
        c.put("use_cache", true);
        c.put("vocab_size", s.embeddingRows());
        return c;
    }
}
