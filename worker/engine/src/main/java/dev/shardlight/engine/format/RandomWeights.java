package dev.shardlight.engine.format;

import dev.shardlight.engine.model.Architecture;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The random weights of one model: every element is a pure function of (seed, tensor, index), so
 * the same seed gives the same model in every format and any element can be recomputed without
 * reading a file. Values are bf16-representable, so BF16 and F32 checkpoints hold exactly the same
 * model; GGUF holds what llama.cpp's converter would write from that checkpoint (Gemma norms
 * +1, Llama Q/K rows permuted, embeddings trimmed to the vocabulary), quantized as asked.
 *
 * <p>Scales keep activations sane through every layer: linear weights uniform with standard
 * deviation 1/sqrt(fan_in), embeddings 1/sqrt(hidden) (so Gemma's x sqrt(hidden) embedding has
 * unit variance and tied logits have about unit variance), norm weights 1 ± 0.1 (Gemma stores
 * the ± 0.1 part, its RMSNorm multiplies by 1 + w).
 */
public final class RandomWeights {

    public enum Kind { EMBEDDING, LINEAR, NORM }

    /**
     * One weight tensor. {@code rows} x {@code cols} as Hugging Face stores it ([out, in]; norms
     * are one row); {@code ggufRows} is what the GGUF holds; {@code ropeHeads} > 0 marks Llama's
     * q/k projections, whose rows llama.cpp permutes per head.
     */
    public record Tensor(String ggufName, String hfName, Kind kind, int layer, long rows, long ggufRows, int cols,
                         int ropeHeads, long key) {
    }

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final ModelShape shape;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    /** Per tensor, the 65536 values a 16-bit draw maps to; tensors of one distribution share a table. */
    private final Map<String, float[]> levels = new HashMap<>();
    private final Map<List<Float>, float[]> tables = new HashMap<>();

    private RandomWeights(ModelShape shape, long seed) {
        this.shape = shape;
        boolean gemma = shape.architecture() == Architecture.GEMMA3;
        String hf = shape.multimodal() ? "language_model.model." : "model.";
        int h = shape.hiddenSize();
        int q = shape.heads() * shape.headDim();
        int kv = shape.kvHeads() * shape.headDim();
        int ff = shape.intermediateSize();
        add(seed, "token_embd.weight", hf + "embed_tokens.weight", Kind.EMBEDDING, -1, shape.embeddingRows(),
                shape.vocabSize(), h, 0);
        // Hugging Face state_dict order (module registration), which decides the shard split.
        for (int l = 0; l < shape.layers(); l++) {
            String b = "blk." + l + ".";
            String m = hf + "layers." + l + ".";
            add(seed, b + "attn_q.weight", m + "self_attn.q_proj.weight", Kind.LINEAR, l, q, q, h, gemma ? 0 : shape.heads());
            add(seed, b + "attn_k.weight", m + "self_attn.k_proj.weight", Kind.LINEAR, l, kv, kv, h, gemma ? 0 : shape.kvHeads());
            add(seed, b + "attn_v.weight", m + "self_attn.v_proj.weight", Kind.LINEAR, l, kv, kv, h, 0);
            add(seed, b + "attn_output.weight", m + "self_attn.o_proj.weight", Kind.LINEAR, l, h, h, q, 0);
            if (gemma) {
                add(seed, b + "attn_q_norm.weight", m + "self_attn.q_norm.weight", Kind.NORM, l, 1, 1, shape.headDim(), 0);
                add(seed, b + "attn_k_norm.weight", m + "self_attn.k_norm.weight", Kind.NORM, l, 1, 1, shape.headDim(), 0);
            }
            add(seed, b + "ffn_gate.weight", m + "mlp.gate_proj.weight", Kind.LINEAR, l, ff, ff, h, 0);
            add(seed, b + "ffn_up.weight", m + "mlp.up_proj.weight", Kind.LINEAR, l, ff, ff, h, 0);
            add(seed, b + "ffn_down.weight", m + "mlp.down_proj.weight", Kind.LINEAR, l, h, h, ff, 0);
            add(seed, b + "attn_norm.weight", m + "input_layernorm.weight", Kind.NORM, l, 1, 1, h, 0);
            if (gemma) {
                add(seed, b + "post_attention_norm.weight", m + "post_attention_layernorm.weight", Kind.NORM, l, 1, 1, h, 0);
                add(seed, b + "ffn_norm.weight", m + "pre_feedforward_layernorm.weight", Kind.NORM, l, 1, 1, h, 0);
                add(seed, b + "post_ffw_norm.weight", m + "post_feedforward_layernorm.weight", Kind.NORM, l, 1, 1, h, 0);
            } else {
                add(seed, b + "ffn_norm.weight", m + "post_attention_layernorm.weight", Kind.NORM, l, 1, 1, h, 0);
            }
        }
        add(seed, "output_norm.weight", hf + "norm.weight", Kind.NORM, -1, 1, 1, h, 0);
    }

    public static RandomWeights of(ModelShape shape, long seed) {
        return new RandomWeights(shape, seed);
    }

    public ModelShape shape() {
        return shape;
    }

    /** In Hugging Face state_dict order. */
    public List<Tensor> tensors() {
        return Collections.unmodifiableList(new ArrayList<>(tensors.values()));
    }

    public Tensor tensor(String ggufName) {
        Tensor t = tensors.get(ggufName);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + ggufName + " in " + shape.name());
        }
        return t;
    }

    private void add(long seed, String gguf, String hf, Kind kind, int layer, long rows, long ggufRows, int cols,
                     int ropeHeads) {
        long key = mix64(seed * GOLDEN ^ fnv1a64(gguf));
        tensors.put(gguf, new Tensor(gguf, hf, kind, layer, rows, ggufRows, cols, ropeHeads, key));
        float amplitude = switch (kind) {
            case EMBEDDING -> (float) Math.sqrt(3.0 / shape.hiddenSize());
            case LINEAR -> (float) Math.sqrt(3.0 / cols);
            case NORM -> 0.1f;
        };
        float center = kind == Kind.NORM && shape.architecture() == Architecture.LLAMA ? 1f : 0f;
        levels.put(gguf, tables.computeIfAbsent(List.of(center, amplitude), k -> uniformLevels(center, amplitude)));
    }

    /** Row {@code row} of the tensor as the Hugging Face checkpoint stores it. */
    public void hfRow(Tensor t, long row, float[] dst) {
        fill(t.key, row * t.cols, t.cols, levels.get(t.ggufName), dst);
    }

    /** Row {@code row} of the tensor as llama.cpp's convert_hf_to_gguf.py writes it (before quantization). */
    public void ggufRow(Tensor t, long row, float[] dst) {
        long hfRow = row;
        if (t.ropeHeads > 0) {
            // permute(): reshape(n_head, 2, dim/2, cols).swapaxes(1, 2), so GGUF row h*d + 2i + j
            // is HF row h*d + j*d/2 + i and RoPE pairs become adjacent (LLAMA_ROPE_TYPE_NORM).
            int d = shape.headDim();
            long head = row / d;
            int within = (int) (row % d);
            hfRow = head * d + (within % 2) * (d / 2) + within / 2;
        }
        hfRow(t, hfRow, dst);
        if (t.kind == Kind.NORM && shape.architecture() == Architecture.GEMMA3) {
            // Gemma3Model.modify_tensors: data_torch + 1 on every *norm.weight, in float32.
            for (int i = 0; i < t.cols; i++) {
                dst[i] += 1f;
            }
        }
    }

    /**
     * Value i of a uniform draw in center ± amplitude, rounded to bf16, for the 16-bit draw i:
     * a table lookup keeps generation at memory speed.
     */
    static float[] uniformLevels(float center, float amplitude) {
        float[] table = new float[1 << 16];
        float scale = amplitude / 32768f;
        for (int u = 0; u < table.length; u++) {
            table[u] = Quantizer.bf16ToFloat(Quantizer.bf16(center + (u - 32767.5f) * scale));
        }
        return table;
    }

    /**
     * {@code n} values from element index {@code first} on (both multiples of 4): a splitmix64
     * hash of (key, index / 4) gives four 16-bit draws, so any range is computable on its own,
     * from any thread.
     */
    static void fill(long key, long first, int n, float[] levels, float[] dst) {
        long group = first >>> 2;
        for (int i = 0; i < n; i += 4, group++) {
            long h = mix64(key + group * GOLDEN);
            dst[i] = levels[(int) h & 0xFFFF];
            dst[i + 1] = levels[(int) (h >>> 16) & 0xFFFF];
            dst[i + 2] = levels[(int) (h >>> 32) & 0xFFFF];
            dst[i + 3] = levels[(int) (h >>> 48)];
        }
    }

    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static long fnv1a64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }
}
