package dev.shardlight.engine.model;

import dev.shardlight.engine.format.GgufFile;
import dev.shardlight.engine.format.ModelFormatException;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Builds a model from a GGUF file as llama.cpp's converter writes it (convert_hf_to_gguf.py):
 * Gemma's norm weights already hold 1 + w; llama's Q/K rows are permuted so RoPE pairs are
 * (2i, 2i+1), and its llama3 scaling lives in the {@code rope_freqs} divisors.
 */
final class GgufModelReader {
    private GgufModelReader() {
    }

    static Model read(GgufFile f) {
        String arch = f.string("general.architecture");
        Architecture a = switch (arch == null ? "" : arch) {
            case "gemma3" -> Architecture.GEMMA3;
            case "llama" -> Architecture.LLAMA;
            default -> throw new ModelFormatException(f.path() + ": general.architecture = " + arch
                    + " is not supported (supported: gemma3, llama)");
        };
        String p = arch + ".";
        int hidden = Shapes.positive(f.path(), p + "embedding_length", required(f, p + "embedding_length"));
        int layers = Shapes.positive(f.path(), p + "block_count", required(f, p + "block_count"));
        int intermediate = Shapes.positive(f.path(), p + "feed_forward_length", required(f, p + "feed_forward_length"));
        int heads = Shapes.positive(f.path(), p + "attention.head_count", required(f, p + "attention.head_count"));
        Long kvKey = f.integer(p + "attention.head_count_kv");
        int kvHeads = kvKey == null ? heads : Shapes.positive(f.path(), p + "attention.head_count_kv", kvKey);
        Long keyLength = f.integer(p + "attention.key_length");
        Long ropeDims = f.integer(p + "rope.dimension_count");
        int headDim = keyLength != null ? keyLength.intValue() : ropeDims != null ? ropeDims.intValue() : hidden / heads;
        Long ctx = f.integer(p + "context_length");
        int context = ctx == null ? 2048 : Shapes.positive(f.path(), p + "context_length", ctx);
        Double epsKey = f.real(p + "attention.layer_norm_rms_epsilon");
        float eps = epsKey == null ? (a == Architecture.GEMMA3 ? 1e-6f : 1e-5f) : epsKey.floatValue();
        Double baseKey = f.real(p + "rope.freq_base");
        double ropeBase = baseKey == null ? 10000.0 : baseKey;

        boolean[] sliding = new boolean[layers];
        int window = 0;
        float[][] invFreq = new float[layers][];
        float attnScale;
        float embedScale = 1f;
        if (a == Architecture.GEMMA3) {
            Long w = f.integer(p + "attention.sliding_window");
            window = w == null ? 0 : w.intValue();
            Object pattern = f.metadata().get(p + "attention.sliding_window_pattern");
            for (int l = 0; l < layers; l++) {
                if (pattern instanceof boolean[] flags && flags.length == layers) {
                    sliding[l] = flags[l];
                } else {
                    // llama.cpp hard-codes set_swa_pattern(6) for gemma3: every 6th layer is global.
                    int period = pattern instanceof Long n ? n.intValue() : 6;
                    sliding[l] = window > 0 && (l + 1) % period != 0;
                }
            }
            Double swaBase = f.real(p + "rope.freq_base_swa");
            double localBase = swaBase == null ? 10000.0 : swaBase;
            String scalingType = f.string(p + "rope.scaling.type");
            Double factor = f.real(p + "rope.scaling.factor");
            float[] global = "linear".equals(scalingType) && factor != null && factor != 1.0
                    ? RopeFrequencies.linear(ropeBase, headDim, factor)
                    : RopeFrequencies.base(ropeBase, headDim);
            float[] local = RopeFrequencies.base(localBase, headDim);
            for (int l = 0; l < layers; l++) {
                invFreq[l] = sliding[l] ? local : global;
            }
            Double scale = f.real(p + "attention.scale");
            // llama.cpp: 1/sqrt(n_embd_head_k), except Gemma 3 27B (62 layers) which scales by hidden/heads.
            attnScale = scale != null ? scale.floatValue()
                    : (float) (1.0 / Math.sqrt(layers == 62 ? (double) hidden / heads : headDim));
            embedScale = (float) Math.sqrt(hidden);
        } else {
            float[] freqs;
            if (f.tensors().containsKey("rope_freqs.weight")) {
                GgufFile.TensorInfo t = f.tensors().get("rope_freqs.weight");
                float[] divisors = Shapes.expect(f.path(), "rope_freqs.weight",
                        TensorVectors.read(t.name(), t.type(), f.data(t), (int) t.elements()), headDim / 2);
                freqs = RopeFrequencies.withDivisors(ropeBase, headDim, divisors);
            } else if ("linear".equals(f.string(p + "rope.scaling.type")) && f.real(p + "rope.scaling.factor") != null) {
                freqs = RopeFrequencies.linear(ropeBase, headDim, f.real(p + "rope.scaling.factor"));
            } else {
                freqs = RopeFrequencies.base(ropeBase, headDim);
            }
            java.util.Arrays.fill(invFreq, freqs);
            Double scale = f.real(p + "attention.scale");
            attnScale = scale != null ? scale.floatValue() : (float) (1.0 / Math.sqrt(headDim));
        }

        WeightMatrix embedding = f.matrix("token_embd.weight");
        int vocab = embedding.rows();
        Shapes.expect(f.path(), embedding, vocab, hidden);
        WeightMatrix output = f.tensors().containsKey("output.weight")
                ? Shapes.expect(f.path(), f.matrix("output.weight"), vocab, hidden) : embedding;
        LayerWeights[] lw = new LayerWeights[layers];
        int qDim = heads * headDim;
        int kvDim = kvHeads * headDim;
        for (int l = 0; l < layers; l++) {
            String b = "blk." + l + ".";
            boolean g = a == Architecture.GEMMA3;
            lw[l] = new LayerWeights(
                    vector(f, b + "attn_norm.weight", hidden),
                    Shapes.expect(f.path(), f.matrix(b + "attn_q.weight"), qDim, hidden),
                    Shapes.expect(f.path(), f.matrix(b + "attn_k.weight"), kvDim, hidden),
                    Shapes.expect(f.path(), f.matrix(b + "attn_v.weight"), kvDim, hidden),
                    Shapes.expect(f.path(), f.matrix(b + "attn_output.weight"), hidden, qDim),
                    g ? vector(f, b + "attn_q_norm.weight", headDim) : null,
                    g ? vector(f, b + "attn_k_norm.weight", headDim) : null,
                    g ? vector(f, b + "post_attention_norm.weight", hidden) : null,
                    vector(f, b + "ffn_norm.weight", hidden),
                    Shapes.expect(f.path(), f.matrix(b + "ffn_gate.weight"), intermediate, hidden),
                    Shapes.expect(f.path(), f.matrix(b + "ffn_up.weight"), intermediate, hidden),
                    Shapes.expect(f.path(), f.matrix(b + "ffn_down.weight"), hidden, intermediate),
                    g ? vector(f, b + "post_ffw_norm.weight", hidden) : null);
        }
        float[] outputNorm = vector(f, "output_norm.weight", hidden);

        Long bosKey = f.integer("tokenizer.ggml.bos_token_id");
        int bos = bosKey == null ? (a == Architecture.GEMMA3 ? 2 : 128000) : bosKey.intValue();
        int[] eos = endOfGeneration(f, a);
        ModelConfig config = new ModelConfig(a, hidden, intermediate, layers, heads, kvHeads, headDim, vocab, context,
                eps, sliding, window, invFreq, a == Architecture.GEMMA3, attnScale, embedScale, 0f, bos, eos,
                "gguf " + f.path().getFileName());
        return new Model(f.path(), config, new ModelWeights(embedding, lw, outputNorm, output), f, f.metadata());
    }

    /**
     * Ids that end generation: the eos/eot keys plus the turn-end tokens llama.cpp also treats as
     * end-of-generation when it finds them in the vocabulary.
     */
    private static int[] endOfGeneration(GgufFile f, Architecture a) {
        Set<Integer> ids = new LinkedHashSet<>();
        for (String k : List.of("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id")) {
            Long v = f.integer(k);
            if (v != null) {
                ids.add(v.intValue());
            }
        }
        if (f.metadata().get("tokenizer.ggml.tokens") instanceof List<?> tokens) {
            List<String> names = a == Architecture.GEMMA3 ? List.of("<end_of_turn>", "<eos>")
                    : List.of("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>");
            for (String n : names) {
                int i = tokens.indexOf(n);
                if (i >= 0) {
                    ids.add(i);
                }
            }
        }
        if (ids.isEmpty()) {
            ids.add(a == Architecture.GEMMA3 ? 1 : 128001);
        }
        return new ArrayList<>(ids).stream().mapToInt(Integer::intValue).toArray();
    }

    private static long required(GgufFile f, String key) {
        Long v = f.integer(key);
        if (v == null) {
            throw new ModelFormatException(f.path() + ": metadata key " + key + " is missing");
        }
        return v;
    }

    private static float[] vector(GgufFile f, String name, int n) {
        GgufFile.TensorInfo t = f.tensors().get(name);
        if (t == null) {
            throw new ModelFormatException(f.path() + ": tensor " + name + " is missing");
        }
        return Shapes.expect(f.path(), name, TensorVectors.read(name, t.type(), f.data(t), (int) t.elements()), n);
    }
}
