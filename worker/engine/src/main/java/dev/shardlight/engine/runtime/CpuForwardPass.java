package dev.shardlight.engine.runtime;

import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Architecture;
import dev.shardlight.engine.model.LayerWeights;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.model.ModelWeights;

/**
 * The decoder forward pass on the CPU kernels, one parameterised layer for Gemma 3 and Llama,
 * for prefill (a chunk of tokens as one matrix) and decode (a chunk of one) alike.
 *
 * <p>Per layer, following transformers' Gemma3DecoderLayer / LlamaDecoderLayer:
 * <pre>
 *   h = norm(x)                          input_layernorm
 *   q, k, v = h Wq, h Wk, h Wv           (gemma: per-head RMSNorm of q and k before RoPE)
 *   rope(q, k); cache k, v
 *   a = attention(q, cache) Wo           (gemma: post_attention_layernorm(a))
 *   x = x + a
 *   h = norm(x)                          gemma pre_feedforward_layernorm / llama post_attention_layernorm
 *   m = (act(h Wgate) * h Wup) Wdown     gemma gelu_tanh, llama silu (gemma: post_feedforward_layernorm(m))
 *   x = x + m
 * </pre>
 * then the final norm and the (tied) output projection. Activations are float32 throughout and
 * the work buffers are allocated once, so the token loop does not allocate.
 */
public final class CpuForwardPass implements ForwardPass {
    /** Tokens per prefill chunk: weights are read once per chunk; sliding rings hold window + chunk - 1. */
    public static final int DEFAULT_CHUNK = 64;

    private final Model model;
    private final ModelConfig c;
    private final ModelWeights w;
    private final Kernels k;
    private final int chunk;
    private final boolean gemma;
    // work buffers [chunk][width]
    private final float[] x;
    private final float[] h;
    private final float[] q;
    private final float[] kv;
    private final float[] vv;
    private final float[] att;
    private final float[] proj;
    private final float[] gate;
    private final float[] up;
    private final float[] last;
    private final ThreadLocal<float[]> scratch = ThreadLocal.withInitial(() -> new float[256]);

    public CpuForwardPass(Model model, Kernels kernels) {
        this(model, kernels, DEFAULT_CHUNK);
    }

    public CpuForwardPass(Model model, Kernels kernels, int chunk) {
        this.model = model;
        this.c = model.config();
        this.w = model.weights();
        this.k = kernels;
        this.chunk = chunk;
        this.gemma = c.architecture() == Architecture.GEMMA3;
        x = new float[chunk * c.hidden()];
        h = new float[chunk * c.hidden()];
        q = new float[chunk * c.qDim()];
        kv = new float[chunk * c.kvDim()];
        vv = new float[chunk * c.kvDim()];
        att = new float[chunk * c.qDim()];
        proj = new float[chunk * c.hidden()];
        gate = new float[chunk * c.intermediate()];
        up = new float[chunk * c.intermediate()];
        last = new float[c.hidden()];
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public String backend() {
        return "cpu/" + k.name();
    }

    @Override
    public KvCache newCache(int maxLength) {
        return new HeapKvCache(c, maxLength, chunk);
    }

    @Override
    public void forward(KvCache kvCache, int[] tokens, int offset, int count, float[] logits, boolean allPositions) {
        HeapKvCache cache = (HeapKvCache) kvCache;
        if (count < 1) {
            throw new IllegalArgumentException("forward needs at least one token");
        }
        if (cache.length() + count > cache.maxLength()) {
            throw new IllegalArgumentException("sequence would reach " + (cache.length() + count)
                    + " positions; this cache holds " + cache.maxLength());
        }
        for (int i = 0; i < count; i++) {
            int t = tokens[offset + i];
            if (t < 0 || t >= c.vocab()) {
                throw new IllegalArgumentException("token id " + t + " at index " + (offset + i)
                        + " is outside the vocabulary 0.." + (c.vocab() - 1));
            }
        }
        for (int done = 0; done < count; done += chunk) {
            int n = Math.min(chunk, count - done);
            runChunk(cache, tokens, offset + done, n);
            if (allPositions) {
                logitsOf(n, logits, done * c.vocab());
            } else if (done + n == count) {
                System.arraycopy(x, (n - 1) * c.hidden(), last, 0, c.hidden());
                k.rmsnorm(last, 0, last, 0, c.hidden(), 1, w.outputNorm(), c.normWeightOffset(), c.eps());
                k.matmul(w.output(), last, logits, 1);
            }
        }
    }

    /** Final norm and output projection of the chunk's n rows into logits[at ..]. */
    private void logitsOf(int n, float[] logits, int at) {
        int H = c.hidden();
        k.rmsnorm(h, 0, x, 0, H, n, w.outputNorm(), c.normWeightOffset(), c.eps());
        if (at == 0) {
            k.matmul(w.output(), h, logits, n);
        } else {
            float[] rows = new float[n * c.vocab()];
            k.matmul(w.output(), h, rows, n);
            System.arraycopy(rows, 0, logits, at, rows.length);
        }
    }

    private void runChunk(HeapKvCache cache, int[] tokens, int offset, int n) {
        int H = c.hidden();
        int start = cache.length();
        cache.reserve(start + n);
        for (int i = 0; i < n; i++) {
            k.dequantizeRow(w.tokenEmbedding(), tokens[offset + i], x, i * H);
        }
        if (c.embedScale() != 1f) {
            k.scale(x, n * H, c.embedScale());
        }
        for (int l = 0; l < c.layers(); l++) {
            layer(l, w.layers()[l], cache, start, n);
        }
        cache.advance(n);
    }

    private void layer(int l, LayerWeights lw, HeapKvCache cache, int start, int n) {
        int H = c.hidden();
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        int hd = c.headDim();
        float off = c.normWeightOffset();
        float eps = c.eps();

        k.rmsnorm(h, 0, x, 0, H, n, lw.attnNorm(), off, eps);
        matmul(lw.wq(), h, q, n);
        matmul(lw.wk(), h, kv, n);
        matmul(lw.wv(), h, vv, n);
        if (gemma) {
            k.rmsnorm(q, 0, q, 0, hd, n * c.heads(), lw.qNorm(), off, eps);
            k.rmsnorm(kv, 0, kv, 0, hd, n * c.kvHeads(), lw.kNorm(), off, eps);
        }
        float[] invFreq = c.invFreq()[l];
        int cap = cache.capacity[l];
        float[] keys = cache.keys[l];
        float[] values = cache.values[l];
        for (int i = 0; i < n; i++) {
            int pos = start + i;
            k.rope(q, i * qDim, c.heads(), hd, pos, invFreq, c.neoxRope());
            k.rope(kv, i * kvDim, c.kvHeads(), hd, pos, invFreq, c.neoxRope());
            int slot = pos % cap;
            System.arraycopy(kv, i * kvDim, keys, slot * kvDim, kvDim);
            System.arraycopy(vv, i * kvDim, values, slot * kvDim, kvDim);
        }
        boolean sliding = c.sliding()[l];
        int window = c.slidingWindow();
        int heads = c.heads();
        int group = heads / c.kvHeads();
        float scale = c.attnScale();
        k.forEach(n * heads, task -> {
            int i = task / heads;
            int head = task % heads;
            int pos = start + i;
            int from = sliding ? Math.max(0, pos - window + 1) : 0;
            float[] s = scratch.get();
            if (s.length < pos - from + 1) {
                s = new float[Math.max(pos - from + 1, s.length * 2)];
                scratch.set(s);
            }
            k.attention(q, i * qDim + head * hd, keys, values, kvDim, (head / group) * hd, hd, from, pos, cap, scale,
                    att, i * qDim + head * hd, s);
        });
        matmul(lw.wo(), att, proj, n);
        if (gemma) {
            k.rmsnorm(proj, 0, proj, 0, H, n, lw.postAttnNorm(), off, eps);
        }
        k.add(x, proj, n * H);

        k.rmsnorm(h, 0, x, 0, H, n, lw.ffnNorm(), off, eps);
        matmul(lw.gate(), h, gate, n);
        matmul(lw.up(), h, up, n);
        int m = n * c.intermediate();
        if (gemma) {
            k.geluTanhMul(gate, up, m);
        } else {
            k.siluMul(gate, up, m);
        }
        matmul(lw.down(), gate, proj, n);
        if (gemma) {
            k.rmsnorm(proj, 0, proj, 0, H, n, lw.postFfnNorm(), off, eps);
        }
        k.add(x, proj, n * H);
    }

    private void matmul(dev.shardlight.engine.tensor.WeightMatrix m, float[] in, float[] out, int n) {
        k.matmul(m, in, out, n);
    }

    public Model model() {
        return model;
    }
}
