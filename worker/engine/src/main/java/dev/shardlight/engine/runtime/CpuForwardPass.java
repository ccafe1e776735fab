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
 *
 * <p>Keys and values live in a paged cache ({@link PagedKvCache} over a {@link KvBlockPool});
 * {@link #forwardBatch} runs the tokens of several sequences as one step (continuous batching).
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
    // per row of a step: which sequence's cache and at which position
    private final PagedKvCache[] rowCache;
    private final int[] rowPos;
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
        rowCache = new PagedKvCache[chunk];
        rowPos = new int[chunk];
    }

    /** Most rows (tokens of all sequences together) one {@link #forwardBatch} step takes. */
    public int stepCapacity() {
        return chunk;
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public String backend() {
        return "cpu/" + k.name();
    }

    /**
     * A cache with a pool of its own, sized for one sequence of {@code maxLength} positions (the
     * single-sequence path: CLI, tests). Serving shares one pool per replica ({@link #newCache(KvBlockPool, int)}).
     */
    @Override
    public KvCache newCache(int maxLength) {
        int b = KvBlockPool.DEFAULT_BLOCK_SIZE;
        return new PagedKvCache(new KvBlockPool(c.kvDim(), b, PagedKvCache.blocksFor(c, b, maxLength, chunk)), c,
                maxLength, chunk);
    }

    /** An empty cache for one sequence whose blocks come from {@code pool}. */
    public PagedKvCache newCache(KvBlockPool pool, int maxLength) {
        if (pool.kvDim() != c.kvDim()) {
            throw new IllegalArgumentException("KV pool of width " + pool.kvDim() + " for a model of kv width " + c.kvDim());
        }
        return new PagedKvCache(pool, c, maxLength, chunk);
    }

    /** A pool of {@code bytes} for this model's sequences. */
    public KvBlockPool newPool(long bytes, int blockSize) {
        return KvBlockPool.ofBytes(c, bytes, blockSize);
    }

    /** Positions a sliding layer's cache may be rewound by ({@link KvCache#truncate}). */
    public int rewindSlack() {
        return chunk;
    }

    @Override
    public void forward(KvCache kvCache, int[] tokens, int offset, int count, float[] logits, boolean allPositions) {
        PagedKvCache cache = (PagedKvCache) kvCache;
        if (count < 1) {
            throw new IllegalArgumentException("forward needs at least one token");
        }
        if (cache.length() + count > cache.maxLength()) {
            throw new IllegalArgumentException("sequence would reach " + (cache.length() + count)
                    + " positions; this cache holds " + cache.maxLength());
        }
        checkTokens(tokens, offset, count);
        Slice[] one = new Slice[1];
        for (int done = 0; done < count; done += chunk) {
            int n = Math.min(chunk, count - done);
            boolean lastChunk = done + n == count;
            one[0] = new Slice(cache, tokens, offset + done, n, allPositions ? n : lastChunk ? 1 : 0);
            if (allPositions && done > 0) {
                float[] rows = new float[n * c.vocab()];
                forwardBatch(one, 1, rows);
                System.arraycopy(rows, 0, logits, done * c.vocab(), rows.length);
            } else {
                forwardBatch(one, 1, logits);
            }
        }
    }

    private void checkTokens(int[] tokens, int offset, int count) {
        for (int i = 0; i < count; i++) {
            int t = tokens[offset + i];
            if (t < 0 || t >= c.vocab()) {
                throw new IllegalArgumentException("token id " + t + " at index " + (offset + i)
                        + " is outside the vocabulary 0.." + (c.vocab() - 1));
            }
        }
    }

    /**
     * One sequence's part of a batched step: {@code tokens[offset .. offset+count)} at positions
     * {@code cache.length()} onwards, and how many of its last rows need logits (0, 1 or count).
     */
    public record Slice(PagedKvCache cache, int[] tokens, int offset, int count, int logitRows) {
    }

    /**
     * One iteration of continuous batching: the slices of several sequences (prefill chunks and
     * single decode tokens alike) run as one matrix through every weight, so each weight is read
     * once for the whole batch; attention runs per row over its own sequence's paged cache.
     * Together the slices have at most {@link #stepCapacity()} tokens, and every cache has been
     * {@linkplain PagedKvCache#reserve reserved} for them (reserving here fails if the pool is out).
     * {@code logits} receives, slice by slice, the {@code logitRows} rows each asked for.
     */
    public void forwardBatch(Slice[] slices, int count, float[] logits) {
        int n = 0;
        for (int s = 0; s < count; s++) {
            Slice sl = slices[s];
            PagedKvCache cache = sl.cache();
            if (n + sl.count() > chunk) {
                throw new IllegalArgumentException("a step of more than " + chunk + " tokens");
            }
            if (!cache.reserve(cache.length() + sl.count())) {
                throw new IllegalStateException("KV pool has no free block for the step (reserve before forwardBatch)");
            }
            for (int i = 0; i < sl.count(); i++) {
                rowCache[n + i] = cache;
                rowPos[n + i] = cache.length() + i;
                k.dequantizeRow(w.tokenEmbedding(), sl.tokens()[sl.offset() + i], x, (n + i) * c.hidden());
            }
            n += sl.count();
        }
        if (c.embedScale() != 1f) {
            k.scale(x, n * c.hidden(), c.embedScale());
        }
        for (int l = 0; l < c.layers(); l++) {
            layer(l, w.layers()[l], n);
        }
        int row = 0;
        int out = 0;
        int H = c.hidden();
        for (int s = 0; s < count; s++) {
            Slice sl = slices[s];
            for (int i = sl.count() - sl.logitRows(); i < sl.count(); i++) {
                System.arraycopy(x, (row + i) * H, h, out++ * H, H);
            }
            row += sl.count();
            sl.cache().advance(sl.count());
        }
        if (out > 0) {
            k.rmsnorm(h, 0, h, 0, H, out, w.outputNorm(), c.normWeightOffset(), c.eps());
            k.matmul(w.output(), h, logits, out);
        }
        java.util.Arrays.fill(rowCache, 0, n, null);
    }

    private void layer(int l, LayerWeights lw, int n) {
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
        for (int i = 0; i < n; i++) {
            int pos = rowPos[i];
            k.rope(q, i * qDim, c.heads(), hd, pos, invFreq, c.neoxRope());
            k.rope(kv, i * kvDim, c.kvHeads(), hd, pos, invFreq, c.neoxRope());
            PagedKvCache cache = rowCache[i];
            KvBlockPool pool = cache.pool();
            int slot = Kernels.slot(cache.table[l], pool.blockShift, pos);
            System.arraycopy(kv, i * kvDim, pool.keys, slot * kvDim, kvDim);
            System.arraycopy(vv, i * kvDim, pool.values, slot * kvDim, kvDim);
        }
        boolean sliding = c.sliding()[l];
        int window = c.slidingWindow();
        int heads = c.heads();
        int group = heads / c.kvHeads();
        // Query heads of one key/value head go to one task, so each cached key is read once for
        // all of them, unless that leaves too few tasks for the threads (a decode step of a model
        // with one key/value head). Grouping does not change any head's result.
        int g = group;
        while (g % 2 == 0 && n * heads / g < 8) {
            g /= 2;
        }
        int perTask = g;
        int tasksPerRow = heads / perTask;
        float scale = c.attnScale();
        k.forEach(n * tasksPerRow, task -> {
            int i = task / tasksPerRow;
            int head = task % tasksPerRow * perTask;
            int pos = rowPos[i];
            PagedKvCache cache = rowCache[i];
            KvBlockPool pool = cache.pool();
            int from = sliding ? Math.max(0, pos - window + 1) : 0;
            int need = perTask * (pos - from + 1);
            float[] s = scratch.get();
            if (s.length < need) {
                s = new float[Math.max(need, s.length * 2)];
                scratch.set(s);
            }
            k.attention(q, i * qDim + head * hd, perTask, pool.keys, pool.values, kvDim, (head / group) * hd, hd,
                    from, pos, cache.table[l], pool.blockShift, scale, att, i * qDim + head * hd, s);
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

    public Kernels kernels() {
        return k;
    }
}
