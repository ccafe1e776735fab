package dev.shardlight.engine.runtime;

import dev.shardlight.engine.format.GgufFileType;
import dev.shardlight.engine.format.ModelShape;
import dev.shardlight.engine.format.RandomCheckpoint;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.kernel.ScalarKernels;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The replica's kernel warm-up: it covers every weight type a model holds (a Q4_K_M file mixes Q4_K
 * and Q6_K), runs no round without a budget, and leaves nothing behind: a forward pass after it
 * gives bitwise the logits it gives without it.
 */
class WarmupTest {
    private static final ModelShape TINY_LLAMA = ModelShape.LLAMA32_1B.resized("tiny-llama", 256, 512, 4, 4, 2, 64, 1024);

    @TempDir
    Path dir;

    @Test
    void coversEveryWeightTypeOfAMixedFile() throws Exception {
        Path file = dir.resolve("mixed.gguf");
        RandomCheckpoint.writeGguf(file, TINY_LLAMA, GgufFileType.Q4_K_M, 1);
        try (Model model = Model.load(file)) {
            Set<GgmlType> expected = new HashSet<>();
            var w = model.weights();
            expected.add(w.tokenEmbedding().type());
            for (var l : w.layers()) {
                for (WeightMatrix m : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down())) {
                    expected.add(m.type());
                }
            }
            assertEquals(Set.of(GgmlType.Q4_K, GgmlType.Q6_K), expected, "the file mixes two types");
            Set<GgmlType> covered = new HashSet<>();
            for (WeightMatrix m : Warmup.smallMatrices(w)) {
                covered.add(m.type());
                assertEquals(4, m.rows());
                assertEquals(256, m.cols());
            }
            assertEquals(expected, covered);
        }
    }

    @Test
    void leavesNoStateBehindAndRunsOnlyWithABudget() throws Exception {
        Path file = dir.resolve("q8.gguf");
        RandomCheckpoint.writeGguf(file, TINY_LLAMA, GgufFileType.Q8_0, 2);
        try (Model model = Model.load(file)) {
            // scalar kernels: their float results do not depend on the JIT's state (the Vector API's
            // lane reductions sum in another order once C2 compiles them, which is why replicas warm up)
            Kernels scalar = new ScalarKernels();
            int[] prompt = {1, 17, 200, 33, 90};
            float[] before = logits(new CpuForwardPass(model, scalar), prompt);
            CpuForwardPass forward = new CpuForwardPass(model, scalar);
            assertEquals(0, Warmup.run(forward, 0).rounds(), "no budget, no round");
            Warmup.Report r = Warmup.run(forward, 500_000_000L);
            assertTrue(r.rounds() >= 1, "ran at least one round: " + r);
            assertArrayEquals(before, logits(forward, prompt));
            assertEquals(0, Warmup.run(new CpuForwardPass(model, scalar), 500_000_000L).rounds(),
                    "the same kernels in the same process are not warmed up twice");
        }
    }

    private static float[] logits(CpuForwardPass f, int[] prompt) {
        KvCache cache = f.newCache(16);
        float[] out = new float[f.config().vocab()];
        f.forward(cache, prompt, 0, prompt.length, out, false);
        return out;
    }
}
