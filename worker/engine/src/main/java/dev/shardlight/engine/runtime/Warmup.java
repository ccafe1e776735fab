package dev.shardlight.engine.runtime;

import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.LayerWeights;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.model.ModelWeights;
import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Gets the JIT to compile a model's kernels before its first request, on small matrices of the
 * model's own weight types.
 *
 * <p>Vector API code runs several hundred times slower until C2 has compiled it (the interpreter
 * and C1 box every vector), and C2 only does so once a method has run often enough. Left to the
 * first request, that happens inside it: with Gemma 3 1B Q8_0 the first token took about 3 s more
 * than the next, mostly the 262k-row logits matrix crawling through C1 code while C2 compiled the
 * matrix-vector loop. Here every kernel the forward pass uses (matrix times one vector and times a
 * small batch, for each weight type and width the model has, norms, RoPE, paged attention, the
 * gated activations) runs on small inputs, round after round, until every one is fast, so compiled
 * code is in place when real work arrives. The matrices are 4 x 256 views of each weight type's
 * first bytes (256 elements are whole blocks of every type): while still boxed, a call must be
 * cheap, or the rounds that reach the JIT's thresholds take seconds. The results are thrown away; no state is kept.
 * It also keeps results from depending on when a request came: the Vector API's fallback code sums
 * a reduction's lanes in order and C2's code in a tree, so a request served while a kernel was
 * still interpreted could get logits that differ in the last bits from the same request later.
 *
 * <p>"Fast" is relative to each operation's slowest run after the first round (which also pays
 * for class initialisation): compiled vector code is hundreds of times faster than boxed, so the rule works on
 * any machine. Element-wise kernels run at the model's real widths, so their loops count enough
 * iterations for C2 too. A time budget bounds the whole.
 */
public final class Warmup {

    /** System property: {@code false} turns warm-ups off (to measure what they save). */
    public static final String PROPERTY = "shardlight.warmup";
    /** The budget a replica gives its warm-up before its first request; the bench commands give the same. */
    public static final long REPLICA_BUDGET_NANOS = 3_000_000_000L;

    /** Rows of each warm-up matrix: one row group of the batched kernels. */
    private static final int ROWS = 4;
    /** Columns of each warm-up matrix: one super-block of the K-quants, eight blocks of the others. */
    private static final int COLS = 256;
    /** Rounds in which every operation must be {@link #SPEEDUP} times faster than its slowest before stopping. */
    private static final int FAST_ROUNDS = 5;
    /**
     * Boxed vector code (interpreter, C1) against C2's: several hundred times slower for these
     * kernels, while the interpreter and C1 differ by far less than this.
     */
    private static final int SPEEDUP = 50;

    /** What a warm-up did: rounds run, their time, and whether they became fast within the budget. */
    public record Report(int rounds, long nanos, boolean settled) {
    }

    /** Operations already warmed up (or tried for a whole budget) in this process, per kernels instance. */
    private static final Map<Kernels, Set<String>> WARMED = Collections.synchronizedMap(new WeakHashMap<>());

    private Warmup() {
    }

    /**
     * Runs the kernels {@code forward} uses, on small matrices of its model's weight types, until
     * every one of them not yet warmed up in this process has been {@value #SPEEDUP} times faster than its slowest run for {@value #FAST_ROUNDS}
     * rounds in a row, or {@code budgetNanos} has passed. Nothing, when the {@value #PROPERTY} property is false.
     */
    public static Report run(CpuForwardPass forward, long budgetNanos) {
        if (!Boolean.parseBoolean(System.getProperty(PROPERTY, "true"))) {
            return new Report(0, 0, false);
        }
        return run(forward.model().config(), forward.model().weights(), forward.kernels(), budgetNanos);
    }

    static Report run(ModelConfig c, ModelWeights w, Kernels k, long budgetNanos) {
        Set<String> warmed = WARMED.computeIfAbsent(k, key -> ConcurrentHashMap.newKeySet());
        float[] x = ramp(4 * COLS);
        float[] out = new float[4 * ROWS];
        Map<String, Runnable> ops = new LinkedHashMap<>();
        for (WeightMatrix m : smallMatrices(w)) {
            GgmlType type = m.type();
            ops.put("matmul " + type + " x1", () -> k.matmul(m, x, out, 1));
            ops.put("matmul " + type + " x4", () -> k.matmul(m, x, out, 4));
            ops.put("matmul " + type + " x3", () -> k.matmul(m, x, out, 3));
        }
        int hidden = c.hidden();
        float[] h = ramp(2 * hidden);
        float[] normOut = new float[2 * hidden];
        float[] normWeight = ramp(hidden);
        int hd = c.headDim();
        float[] q = ramp(c.qDim());
        float[] invFreq = ramp(hd / 2);
        int kvDim = c.kvDim();
        int blockShift = 4;
        int positions = 2 << blockShift;
        float[] keys = ramp(positions * kvDim);
        float[] values = ramp(positions * kvDim);
        int[] blocks = {1, 0};
        int group = c.heads() / c.kvHeads();
        float[] attnOut = new float[group * hd];
        float[] scratch = new float[group * positions];
        int inter = Math.min(c.intermediate(), 2048);
        float[] gate = ramp(inter);
        float[] up = ramp(inter);

        ops.put("rmsnorm", () -> k.rmsnorm(normOut, 0, h, 0, hidden, 2, normWeight, 1f, 1e-6f));
        ops.put("rope neox", () -> k.rope(q, 0, c.heads(), hd, 7, invFreq, true));
        ops.put("rope pairs", () -> k.rope(q, 0, c.heads(), hd, 7, invFreq, false));
        ops.put("attention", () -> k.attention(q, 0, 1, keys, values, kvDim, 0, hd, 0, positions - 1, blocks, blockShift,
                0.1f, attnOut, 0, scratch));
        if (group > 1) {
            ops.put("attention grouped", () -> k.attention(q, 0, group, keys, values, kvDim, 0, hd, 0, positions - 1,
                    blocks, blockShift, 0.1f, attnOut, 0, scratch));
        }
        ops.put("gelu", () -> k.geluTanhMul(gate, up, inter));
        ops.put("silu", () -> k.siluMul(gate, up, inter));
        ops.put("add", () -> k.add(normOut, h, 2 * hidden));
        ops.put("scale", () -> k.scale(normOut, 2 * hidden, 0.5f));

        ops.keySet().removeAll(warmed);
        List<Runnable> todo = List.copyOf(ops.values());
        // each operation on its own: one that is a small part of a round must become fast too
        long[] slowest = new long[todo.size()];
        int[] fastInARow = new int[todo.size()];
        long start = System.nanoTime();
        int rounds = 0;
        while (!todo.isEmpty() && System.nanoTime() - start < budgetNanos) {
            boolean settled = true;
            for (int i = 0; i < todo.size(); i++) {
                long t0 = System.nanoTime();
                todo.get(i).run();
                long t = System.nanoTime() - t0;
                if (rounds > 0) {
                    slowest[i] = Math.max(slowest[i], t);
                }
                fastInARow[i] = t * SPEEDUP < slowest[i] ? fastInARow[i] + 1 : 0;
                settled &= fastInARow[i] >= FAST_ROUNDS;
            }
            rounds++;
            if (settled) {
                break;
            }
        }
        // Out of budget, the compilations asked for still finish in the background: a later replica
        // of this process does not spend its own budget on the same operations.
        if (rounds > 0) {
            warmed.addAll(ops.keySet());
        }
        boolean settled = true;
        for (int f : fastInARow) {
            settled &= f >= FAST_ROUNDS;
        }
        return new Report(rounds, System.nanoTime() - start, settled);
    }

    /**
     * For each weight type of the model, a {@link #ROWS} x {@link #COLS} matrix over the first bytes
     * of one of its matrices of that type (whole blocks either way). They are slices of the model's
     * own segments on purpose: compiled code specialises on the segment's class (a mapped file's
     * segments are not an arena's), and a warm-up on another class is thrown away at the first real
     * call.
     */
    static List<WeightMatrix> smallMatrices(ModelWeights w) {
        List<WeightMatrix> all = new ArrayList<>(List.of(w.tokenEmbedding(), w.output()));
        for (LayerWeights l : w.layers()) {
            all.addAll(List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down()));
        }
        Map<GgmlType, WeightMatrix> byType = new EnumMap<>(GgmlType.class);
        for (WeightMatrix m : all) {
            long bytes = ROWS * m.type().bytesFor(COLS);
            if (m.data().byteSize() >= bytes) {
                byType.putIfAbsent(m.type(), new WeightMatrix("warm-up " + m.type(), m.type(), ROWS, COLS,
                        m.data().asSlice(0, bytes)));
            }
        }
        return List.copyOf(byType.values());
    }

    /** Small, finite, varied values (all zeros could let a kernel skip work some day). */
    private static float[] ramp(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = ((i * 37) % 101 - 50) / 500f;
        }
        return a;
    }
}
