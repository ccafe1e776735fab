package dev.shardlight.engine.format;

import dev.shardlight.engine.model.Architecture;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The hyper-parameters of one decoder, as its published config.json states them, plus what the
 * random-checkpoint writers need to reproduce the published files (embedding rows, transformers
 * version). Presets hold the real values of Gemma 3 270M/1B/4B/12B and Llama 3.2 1B
 * (shared/reference/models.md §1); {@link #resized} derives small shapes for tests.
 *
 * @param vocabSize        tokenizer vocabulary = GGUF {@code token_embd} rows
 * @param embeddingRows    HF {@code embed_tokens} rows: 262208 on Gemma 4B/12B (64 rows past the
 *                         vocabulary, which llama.cpp trims), else vocabSize
 * @param slidingWindow    Gemma's local window (0: every layer is global)
 * @param ropeTheta        base of the global (full-attention) layers
 * @param ropeLocalTheta   base of Gemma's sliding layers (rope_local_base_freq)
 * @param linearRopeFactor Gemma 4B/12B global layers' linear scaling; 1 = none
 * @param llama3Rope       Llama 3's banded scaling, or null
 * @param queryPreAttnScalar Gemma's attention scale is its -1/2 power; 0 for Llama
 * @param eosIds           config.json eos_token_id (the -it / Instruct stop set)
 * @param padId            -1 when the config has no pad_token_id
 * @param multimodal       Gemma3ForConditionalGeneration (text weights under language_model.model.)
 */
public record ModelShape(
        String name,
        Architecture architecture,
        int hiddenSize,
        int intermediateSize,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int vocabSize,
        int embeddingRows,
        int contextLength,
        int slidingWindow,
        double ropeTheta,
        double ropeLocalTheta,
        double linearRopeFactor,
        Llama3Rope llama3Rope,
        double rmsNormEps,
        int queryPreAttnScalar,
        int bosId,
        List<Integer> eosIds,
        int padId,
        boolean multimodal,
        String transformersVersion) {

    /** config.json rope_scaling of rope_type "llama3". */
    public record Llama3Rope(double factor, double lowFreqFactor, double highFreqFactor, int originalContextLength) {
    }

    /** Llama 3 keeps its 256 special tokens at the end of the vocabulary; ids below are offsets from there. */
    static final int LLAMA_SPECIAL_TOKENS = 256;

    public static final ModelShape GEMMA3_270M = gemma("gemma3-270m", 640, 2048, 18, 4, 1, 262144, 32768, 512, 1.0,
            List.of(1), false, "4.55.0.dev0");
    public static final ModelShape GEMMA3_1B = gemma("gemma3-1b", 1152, 6912, 26, 4, 1, 262144, 32768, 512, 1.0,
            List.of(1, 106), false, "4.50.0.dev0");
    public static final ModelShape GEMMA3_4B = gemma("gemma3-4b", 2560, 10240, 34, 8, 4, 262208, 131072, 1024, 8.0,
            List.of(1, 106), true, "4.50.0.dev0");
    public static final ModelShape GEMMA3_12B = gemma("gemma3-12b", 3840, 15360, 48, 16, 8, 262208, 131072, 1024, 8.0,
            List.of(1, 106), true, "4.50.0.dev0");
    public static final ModelShape LLAMA32_1B = new ModelShape("llama3.2-1b", Architecture.LLAMA, 2048, 8192, 16, 32, 8,
            64, 128256, 128256, 131072, 0, 500000.0, 500000.0, 1.0, new Llama3Rope(32.0, 1.0, 4.0, 8192), 1e-5, 0,
            128000, List.of(128001, 128008, 128009), -1, false, "4.45.0.dev0");

    private static final Map<String, ModelShape> PRESETS = new TreeMap<>(Map.of(
            GEMMA3_270M.name, GEMMA3_270M, GEMMA3_1B.name, GEMMA3_1B, GEMMA3_4B.name, GEMMA3_4B,
            GEMMA3_12B.name, GEMMA3_12B, LLAMA32_1B.name, LLAMA32_1B));

    public ModelShape {
        eosIds = List.copyOf(eosIds);
        require(hiddenSize % 32 == 0 && intermediateSize % 32 == 0 && heads * headDim % 32 == 0,
                "hidden, intermediate and heads*headDim must be multiples of 32 (quantized rows are whole blocks)");
        require(headDim % 8 == 0 && heads > 0 && kvHeads > 0 && heads % kvHeads == 0,
                "heads must be a multiple of kvHeads, headDim a multiple of 8");
        require(layers > 0 && vocabSize >= 512 && embeddingRows >= vocabSize, "at least one layer and 512 tokens");
    }

    private static void require(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException(what);
        }
    }

    private static ModelShape gemma(String name, int hidden, int intermediate, int layers, int heads, int kvHeads,
                                    int embeddingRows, int context, int window, double linearFactor,
                                    List<Integer> eos, boolean multimodal, String transformers) {
        return new ModelShape(name, Architecture.GEMMA3, hidden, intermediate, layers, heads, kvHeads, 256, 262144,
                embeddingRows, context, window, 1_000_000.0, 10_000.0, linearFactor, null, 1e-6, 256, 2, eos, 0,
                multimodal, transformers);
    }

    /** The preset of that name; see {@link #presetNames()}. */
    public static ModelShape preset(String name) {
        ModelShape s = PRESETS.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no preset " + name + "; presets: " + presetNames());
        }
        return s;
    }

    public static List<String> presetNames() {
        return List.copyOf(PRESETS.keySet());
    }

    /**
     * This shape with other sizes (everything else kept): for small test checkpoints. Llama's
     * special ids move with the end of the vocabulary; Gemma 4B/12B keep 64 extra HF rows;
     * Gemma's query_pre_attn_scalar follows the head dim, since GGUF has no key for it and
     * llama.cpp scales by 1/sqrt(head_dim) (equal on every Gemma 3 but 27B).
     */
    public ModelShape resized(String newName, int hidden, int intermediate, int newLayers, int newHeads, int newKvHeads,
                              int newHeadDim, int vocab) {
        int shift = architecture == Architecture.LLAMA ? vocab - vocabSize : 0;
        return new ModelShape(newName, architecture, hidden, intermediate, newLayers, newHeads, newKvHeads, newHeadDim,
                vocab, vocab + (embeddingRows - vocabSize), contextLength, slidingWindow, ropeTheta, ropeLocalTheta,
                linearRopeFactor, llama3Rope, rmsNormEps, architecture == Architecture.GEMMA3 ? newHeadDim : 0, bosId + shift,
                eosIds.stream().map(id -> id + shift).toList(), padId, multimodal, transformersVersion);
    }

    /** Gemma 3: every sixth layer (i+1) % 6 == 0 is global, the others slide (T-modular layer_types). */
    public boolean isSlidingLayer(int layer) {
        return architecture == Architecture.GEMMA3 && slidingWindow > 0 && (layer + 1) % 6 != 0;
    }

    /** config.json layer_types. */
    public List<String> layerTypes() {
        List<String> types = new ArrayList<>(layers);
        for (int l = 0; l < layers; l++) {
            types.add(isSlidingLayer(l) ? "sliding_attention" : "full_attention");
        }
        return types;
    }

    /** Weights of the text decoder, counting {@code embeddingRows} (HF) or {@code vocabSize} (GGUF) embedding rows. */
    public long parameterCount(boolean hfEmbedding) {
        long q = (long) heads * headDim;
        long kv = (long) kvHeads * headDim;
        long perLayer = hiddenSize * (q + 2 * kv) + q * hiddenSize + 3L * hiddenSize * intermediateSize;
        perLayer += architecture == Architecture.GEMMA3 ? 4L * hiddenSize + 2L * headDim : 2L * hiddenSize;
        return (long) (hfEmbedding ? embeddingRows : vocabSize) * hiddenSize + layers * perLayer + hiddenSize;
    }
}
