package dev.shardlight.engine.model;

import dev.shardlight.engine.tensor.WeightMatrix;

/**
 * One decoder layer. Norm vectors are small and read onto the heap as float32; matrices stay in
 * the mapped file. Gemma-only fields are null for Llama.
 */
public record LayerWeights(
        float[] attnNorm,          // (hidden) input_layernorm / attn_norm
        WeightMatrix wq,           // (heads * headDim, hidden)
        WeightMatrix wk,           // (kvHeads * headDim, hidden)
        WeightMatrix wv,           // (kvHeads * headDim, hidden)
        WeightMatrix wo,           // (hidden, heads * headDim)
        float[] qNorm,             // (headDim) gemma q_norm, per head before RoPE
        float[] kNorm,             // (headDim) gemma k_norm
        float[] postAttnNorm,      // (hidden) gemma post_attention_layernorm
        float[] ffnNorm,           // (hidden) gemma pre_feedforward_layernorm / llama post_attention_layernorm
        WeightMatrix gate,         // (intermediate, hidden)
        WeightMatrix up,           // (intermediate, hidden)
        WeightMatrix down,         // (hidden, intermediate)
        float[] postFfnNorm) {     // (hidden) gemma post_feedforward_layernorm
}
