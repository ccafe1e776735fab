package dev.shardlight.engine.model;

/** The decoder families Shardlight runs; one parameterised layer serves both. */
public enum Architecture {
    /** Gemma 3 text decoder: sandwich norms, per-head q/k RMSNorm, gated GELU-tanh, sliding layers. */
    GEMMA3,
    /** Llama 3.x: pre-norm, SwiGLU, GQA, llama3-scaled RoPE. */
    LLAMA
}
