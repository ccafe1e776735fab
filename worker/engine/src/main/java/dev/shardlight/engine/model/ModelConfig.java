package dev.shardlight.engine.model;

import java.util.Arrays;

/**
 * Everything the forward pass needs to know about a model, read from its files (config.json or
 * GGUF metadata) and cross-checked against the tensor shapes; nothing here is hard-coded per model.
 *
 * @param hidden          width of the residual stream
 * @param intermediate    width of the MLP
 * @param heads           query heads; {@code kvHeads} key/value heads (GQA when fewer)
 * @param headDim         per-head width (Gemma: 256, not hidden / heads)
 * @param vocab           rows of the output projection (HF Gemma 4B/12B: 262208, padded)
 * @param contextLength   longest sequence the model was trained for
 * @param sliding         per layer: true for a sliding-window (local) layer
 * @param slidingWindow   keys a local layer sees, including the current token
 * @param invFreq         per layer: RoPE inverse frequencies [headDim/2], scaling folded in
 * @param neoxRope        pairs (i, i + headDim/2) when true; (2i, 2i+1) for GGUF llama (permuted Q/K)
 * @param attnScale       multiplier of q.k (Gemma: query_pre_attn_scalar^-0.5)
 * @param embedScale      multiplier of token embeddings (Gemma: sqrt(hidden) in float32; Llama: 1)
 * @param normWeightOffset 1 where norm weights are stored zero-centred (HF Gemma), else 0
 * @param bos             beginning-of-sequence id; {@code eos} every id that ends generation
 */
public record ModelConfig(
        Architecture architecture,
        int hidden,
        int intermediate,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int vocab,
        int contextLength,
        float eps,
        boolean[] sliding,
        int slidingWindow,
        float[][] invFreq,
        boolean neoxRope,
        float attnScale,
        float embedScale,
        float normWeightOffset,
        int bos,
        int[] eos,
        String source) {

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public int globalLayers() {
        int n = 0;
        for (boolean s : sliding) {
            n += s ? 0 : 1;
        }
        return n;
    }

    public boolean isStop(int token) {
        for (int e : eos) {
            if (e == token) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return architecture + " hidden=" + hidden + " intermediate=" + intermediate + " layers=" + layers
                + " heads=" + heads + "/" + kvHeads + " headDim=" + headDim + " vocab=" + vocab
                + " context=" + contextLength + " window=" + slidingWindow + " globalLayers=" + globalLayers()
                + " eos=" + Arrays.toString(eos) + " (" + source + ")";
    }
}
