package dev.shardlight.engine.model;

/**
 * RoPE inverse frequencies as Hugging Face transformers computes them (modeling_rope_utils.py),
 * in float32 like its tensors: {@code inv_freq[i] = 1 / base^(2i/dim)}, then the scaling of the
 * rope type.
 */
public final class RopeFrequencies {
    private RopeFrequencies() {
    }

    /** rope_type "default". */
    public static float[] base(double base, int dim) {
        float[] f = new float[dim / 2];
        for (int i = 0; i < f.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;          // arange(0, dim, 2).float() / dim
            f[i] = (float) (1.0 / (float) Math.pow(base, exponent)); // base ** exponent in float32, then 1.0 / x
        }
        return f;
    }

    /** rope_type "linear": inv_freq / factor. */
    public static float[] linear(double base, int dim, double factor) {
        float[] f = base(base, dim);
        for (int i = 0; i < f.length; i++) {
            f[i] = f[i] / (float) factor;
        }
        return f;
    }

    /** rope_type "llama3" (_compute_llama3_parameters): wavelength bands, smooth in between. */
    public static float[] llama3(double base, int dim, double factor, double lowFreqFactor, double highFreqFactor,
                                 double originalContext) {
        float[] f = base(base, dim);
        float lowFreqWavelen = (float) (originalContext / lowFreqFactor);
        float highFreqWavelen = (float) (originalContext / highFreqFactor);
        for (int i = 0; i < f.length; i++) {
            float inv = f[i];
            float wavelen = (float) (2 * Math.PI) / inv;
            float scaled = wavelen > lowFreqWavelen ? inv / (float) factor : inv;
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                float smooth = ((float) originalContext / wavelen - (float) lowFreqFactor)
                        / (float) (highFreqFactor - lowFreqFactor);
                scaled = (1 - smooth) * scaled / (float) factor + smooth * scaled;
            }
            f[i] = scaled;
        }
        return f;
    }

    /** llama.cpp GGUF: theta_i = pos * base^(-2i/dim) / rope_freqs[i] (ggml_rope_cache_init with freq factors). */
    public static float[] withDivisors(double base, int dim, float[] divisors) {
        float[] f = base(base, dim);
        for (int i = 0; i < f.length; i++) {
            f[i] = f[i] / divisors[i];
        }
        return f;
    }
}
