package dev.shardlight.engine.runtime;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching must not change results: each sequence, whatever shares its steps and
 * whenever it joined, produces exactly the greedy tokens it produces alone; preempted sequences
 * continue exactly; prefix-cache hits give the cold run's logits; sliding layers give blocks back.
 */
class BatchSchedulerTest {
    static final Path FIXTURES = ReferenceLogitsTest.FIXTURES;
    static final int STEP = 16;
    static final SamplingParams GREEDY = SamplingParams.GREEDY;

    /** A sink that records what the scheduler hands out. */
    static final class Recorder implements BatchScheduler.Sink {
        final List<Integer> tokens = new ArrayList<>();
        final List<TokenLogprobs> logprobs = new ArrayList<>();
        BatchScheduler.Result result;
        boolean cancel;
        int firstTokenStep = -1;
        int step;

        @Override
        public boolean ready() {
            return true;
        }

        @Override
        public boolean cancelled() {
            return cancel;
        }

        @Override
        public void token(int token, TokenLogprobs lp) {
            if (tokens.isEmpty()) {
                firstTokenStep = step;
            }
            tokens.add(token);
            logprobs.add(lp);
        }

        @Override
        public void finished(BatchScheduler.Result r) {
            result = r;
        }

        int[] ids() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    static int[] prompt(ModelConfig c, int length, long seed) {
        Random r = new Random(seed);
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = 3 + r.nextInt(c.vocab() - 3);
        }
        return p;
    }

    static BatchScheduler.Request request(String id, String tenant, int[] prompt, int maxTokens) {
        return new BatchScheduler.Request(id, tenant, 0, 1.0, prompt, maxTokens, GREEDY, new int[0], -1);
    }

    /** Steps until idle, submitting each request at its arrival step; returns steps taken. */
    static int run(BatchScheduler s, List<BatchScheduler.Request> reqs, int[] arrivals, List<Recorder> sinks) {
        int step = 0;
        int next = 0;
        while (next < reqs.size() || s.busy()) {
            while (next < reqs.size() && arrivals[next] <= step) {
                Recorder rec = new Recorder();
                sinks.add(rec);
                s.submit(reqs.get(next), rec);
                next++;
            }
            for (Recorder r : sinks) {
                r.step = step;
            }
            s.step();
            step++;
            assertTrue(step < 5000, "scheduler did not finish");
        }
        return step;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3-1b-like", "llama32-like"})
    void batchedGreedyTokensAreExactlyTheSequencesAlone(String fixture) throws Exception {
        try (Model model = Model.load(FIXTURES.resolve(fixture).resolve("model-q8_0.gguf"))) {
            Kernels k = Backends.kernels();
            CpuForwardPass forward = new CpuForwardPass(model, k, STEP);
            ModelConfig c = model.config();
            int[] lengths = {5, 23, 40, 9, 31, 2, 17};
            int[] maxTokens = {12, 8, 20, 15, 5, 10, 9};
            int[] arrivals = {0, 0, 2, 5, 6, 11, 12};
            List<BatchScheduler.Request> reqs = new ArrayList<>();
            List<int[]> alone = new ArrayList<>();
            for (int i = 0; i < lengths.length; i++) {
                int[] p = prompt(c, lengths[i], 100 + i);
                reqs.add(request("r" + i, "t", p, maxTokens[i]));
                alone.add(new Generator(new CpuForwardPass(model, k, STEP))
                        .generate(p, maxTokens[i], GREEDY, new int[0], null, null).tokens());
            }
            BatchScheduler s = new BatchScheduler(forward, BatchScheduler.Options.defaults(16L << 20));
            List<Recorder> sinks = new ArrayList<>();
            run(s, reqs, arrivals, sinks);
            for (int i = 0; i < reqs.size(); i++) {
                assertArrayEquals(alone.get(i), sinks.get(i).ids(), "sequence " + i + " batched vs alone");
                assertEquals(alone.get(i).length, sinks.get(i).result.completionTokens());
            }
            assertTrue(s.stats().steps() > 0);
            assertEquals(s.stats().kvBlocksTotal(), s.stats().kvBlocksFree(), "every block is back (free or cached)");
            // several sequences did share steps
            assertTrue(s.stats().stepRows() > s.stats().steps(), "rows per step > 1 on average");
        }
    }

    @Test
    void preemptedSequencesContinueExactly() throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("llama32-like").resolve("model-q8_0.gguf"))) {
            Kernels k = Backends.kernels();
            ModelConfig c = model.config();
            CpuForwardPass forward = new CpuForwardPass(model, k, STEP);
            // room for about two of these sequences at once: the others must be preempted and recomputed
            int perSeq = PagedKvCache.blocksFor(c, KvBlockPool.DEFAULT_BLOCK_SIZE, 30 + 40, STEP);
            long bytes = (long) (perSeq * 2 + 1) * KvBlockPool.bytesPerBlock(c, KvBlockPool.DEFAULT_BLOCK_SIZE);
            BatchScheduler s = new BatchScheduler(forward,
                    new BatchScheduler.Options(bytes, KvBlockPool.DEFAULT_BLOCK_SIZE, 8, false, false));
            List<BatchScheduler.Request> reqs = new ArrayList<>();
            List<int[]> alone = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int[] p = prompt(c, 30, 300 + i);
                reqs.add(request("r" + i, "t", p, 40));
                alone.add(new Generator(new CpuForwardPass(model, k, STEP))
                        .generate(p, 40, GREEDY, new int[0], null, null).tokens());
            }
            List<Recorder> sinks = new ArrayList<>();
            run(s, reqs, new int[4], sinks);
            assertTrue(s.stats().preemptions() > 0, "the small pool forced preemption");
            for (int i = 0; i < reqs.size(); i++) {
                assertEquals(alone.get(i).length == 40 ? BatchScheduler.Outcome.LENGTH : BatchScheduler.Outcome.STOP,
                        sinks.get(i).result.outcome(), sinks.get(i).result.message());
                assertArrayEquals(alone.get(i), sinks.get(i).ids(), "sequence " + i);
            }
            assertEquals(s.stats().kvBlocksTotal(), s.stats().kvBlocksFree());
        }
    }

    @Test
    void prefixHitsGiveTheColdRunsLogitsAndArePartitionedByTenant() throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("gemma3-1b-like").resolve("model-f32.gguf"))) {
            Kernels k = Backends.kernels();
            ModelConfig c = model.config();
            int[] system = prompt(c, 50, 7);
            int[] first = concat(system, prompt(c, 6, 8));
            int[] second = concat(system, prompt(c, 9, 9));
            BatchScheduler cached = new BatchScheduler(new CpuForwardPass(model, k, STEP),
                    BatchScheduler.Options.defaults(16L << 20));
            BatchScheduler cold = new BatchScheduler(new CpuForwardPass(model, k, STEP),
                    new BatchScheduler.Options(16L << 20, KvBlockPool.DEFAULT_BLOCK_SIZE, 8, false, false));
            Recorder a = runOne(cached, withLogprobs("a", "tenant-a", first));
            Recorder b = runOne(cached, withLogprobs("b", "tenant-a", second));
            Recorder other = runOne(cached, withLogprobs("c", "tenant-b", second));
            Recorder bCold = runOne(cold, withLogprobs("b", "tenant-a", second));
            assertEquals(0, a.result.cachedTokens());
            assertEquals(48, b.result.cachedTokens(), "three full 16-token blocks of the shared 50-token prefix");
            assertEquals(0, other.result.cachedTokens(), "another tenant's partition");
            assertArrayEquals(bCold.ids(), b.ids());
            for (int i = 0; i < b.logprobs.size(); i++) {
                TokenLogprobs hit = b.logprobs.get(i);
                TokenLogprobs ref = bCold.logprobs.get(i);
                assertEquals(ref.logprob(), hit.logprob(), 1e-5f, "step " + i);
                assertArrayEquals(ref.topIds(), hit.topIds());
                assertArrayEquals(ref.topLogprobs(), hit.topLogprobs(), 1e-5f);
            }
            assertTrue(cached.stats().prefixHitTokens() >= 48);

            BatchScheduler shared = new BatchScheduler(new CpuForwardPass(model, k, STEP),
                    new BatchScheduler.Options(16L << 20, KvBlockPool.DEFAULT_BLOCK_SIZE, 8, true, true));
            runOne(shared, withLogprobs("a", "tenant-a", first));
            assertEquals(48, runOne(shared, withLogprobs("c", "tenant-b", second)).result.cachedTokens(),
                    "shared partition");
        }
    }

    @Test
    void slidingLayersGiveBackBlocksOutsideTheirWindow() throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("gemma3-1b-like").resolve("model-q8_0.gguf"))) {
            ModelConfig c = model.config();
            CpuForwardPass forward = new CpuForwardPass(model, Backends.kernels(), STEP);
            KvBlockPool pool = new KvBlockPool(c.kvDim(), 16, 4096);
            PagedKvCache cache = forward.newCache(pool, 240);
            int[] p = prompt(c, 240, 11);
            forward.forward(cache, p, 0, p.length, new float[c.vocab()], false);
            int global = 0;
            for (boolean s : c.sliding()) {
                global += s ? 0 : 1;
            }
            int sliding = c.layers() - global;
            assertTrue(sliding > 0 && global > 0, c.toString());
            long perLayerBlocks = 240 / 16;
            long held = cache.bytes() / pool.bytesPerBlock();
            // global layers keep all 15 blocks; sliding ones (window 8) keep the window + the rewind slack
            long slidingMax = (c.slidingWindow() + 2 * STEP + 15) / 16 + 2;
            assertTrue(held <= global * perLayerBlocks + sliding * slidingMax, "held " + held);
            assertTrue(held < c.layers() * perLayerBlocks / 2, "held " + held + " of " + c.layers() * perLayerBlocks);
            assertEquals(pool.totalBlocks() - held, pool.freeBlocks());
            cache.free(new PrefixCache(pool));
            assertEquals(pool.totalBlocks(), pool.freeBlocks());
        }
    }

    @Test
    void aLateTenantTakesItsShareOfSlotsFromAFloodingTenantAtOnce() throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("llama32-like").resolve("model-q8_0.gguf"))) {
            ModelConfig c = model.config();
            Kernels k = Backends.kernels();
            BatchScheduler s = new BatchScheduler(new CpuForwardPass(model, k, STEP),
                    new BatchScheduler.Options(16L << 20, 16, 2, true, false));
            List<BatchScheduler.Request> reqs = new ArrayList<>();
            List<int[]> alone = new ArrayList<>();
            int[] arrivals = new int[11];
            for (int i = 0; i < 10; i++) {
                int[] p = prompt(c, 12, i);
                reqs.add(request("a" + i, "flooder", p, 30));
                alone.add(new Generator(new CpuForwardPass(model, k, STEP)).generate(p, 30, GREEDY, new int[0], null, null)
                        .tokens());
            }
            int[] q = prompt(c, 12, 99);
            reqs.add(request("b", "quiet", q, 6));
            alone.add(new Generator(new CpuForwardPass(model, k, STEP)).generate(q, 6, GREEDY, new int[0], null, null).tokens());
            arrivals[10] = 5; // both slots are the flooder's by then
            List<Recorder> sinks = new ArrayList<>();
            run(s, reqs, arrivals, sinks);
            Recorder b = sinks.get(10);
            // the quiet tenant's request takes a slot (preempting the flooder's latest) at the next step
            assertTrue(b.firstTokenStep <= arrivals[10] + 1, "quiet tenant's first token at step " + b.firstTokenStep);
            assertTrue(s.stats().preemptions() > 0);
            for (int i = 0; i < reqs.size(); i++) {
                assertArrayEquals(alone.get(i), sinks.get(i).ids(), "sequence " + i + " (preempted ones recompute exactly)");
            }
        }
    }

    @Test
    void cancelledSequencesLeaveAndFreeTheirBlocks() throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("llama32-like").resolve("model-q8_0.gguf"))) {
            ModelConfig c = model.config();
            BatchScheduler s = new BatchScheduler(new CpuForwardPass(model, Backends.kernels(), STEP),
                    BatchScheduler.Options.defaults(16L << 20));
            Recorder keep = new Recorder();
            Recorder drop = new Recorder();
            s.submit(request("keep", "t", prompt(c, 10, 1), 30), keep);
            s.submit(request("drop", "t", prompt(c, 10, 2), 30), drop);
            for (int i = 0; i < 5; i++) {
                s.step();
            }
            drop.cancel = true;
            s.step();
            assertNotNull(drop.result);
            assertEquals(BatchScheduler.Outcome.CANCELLED, drop.result.outcome());
            int sent = drop.tokens.size();
            while (s.busy()) {
                s.step();
            }
            assertEquals(sent, drop.tokens.size(), "nothing after cancellation");
            assertEquals(keep.tokens.size(), keep.result.completionTokens());
            assertTrue(keep.result.outcome() != BatchScheduler.Outcome.CANCELLED);
            assertEquals(s.stats().kvBlocksTotal(), s.stats().kvBlocksFree());
        }
    }

    /**
     * Three short prompts decode while a 120-token prompt prefills: with a cap, each of its partial
     * chunks that shares a step with decode rows has exactly the cap's rows; once it is alone it
     * takes the whole step. Without one it takes what the decode rows leave. Either way every
     * position of the prompt is computed once and every sequence's tokens are its alone tokens.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 4})
    void aLongPromptsPartialChunksAreCappedWhileOthersDecodeAndFillTheStepAlone(int cap) throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("gemma3-1b-like").resolve("model-q8_0.gguf"))) {
            Kernels k = Backends.kernels();
            ModelConfig c = model.config();
            BatchScheduler s = new BatchScheduler(new CpuForwardPass(model, k, STEP),
                    BatchScheduler.Options.defaults(16L << 20).withLongPrefillChunk(cap));
            List<BatchScheduler.Request> reqs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                reqs.add(request("short" + i, "t", prompt(c, 5, 400 + i), 12));
            }
            int longLength = 120;
            reqs.add(request("long", "t", prompt(c, longLength, 410), 3));
            List<Recorder> sinks = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                sinks.add(new Recorder());
                s.submit(reqs.get(i), sinks.get(i));
            }
            s.step(); // the three 5-token prompts fit one 16-row step: from here on they decode
            assertEquals(15, s.stats().lastStepRows());
            Recorder longRec = new Recorder();
            sinks.add(longRec);
            s.submit(reqs.get(3), longRec);
            int computed = 0;
            int shared = 0;
            int alone = 0;
            while (longRec.tokens.isEmpty()) {
                int left = longLength - computed;
                s.step();
                BatchScheduler.Stats st = s.stats();
                int decodeRows = st.lastBatchSize() - 1; // every other slice is one decode row
                int chunk = st.lastStepRows() - decodeRows;
                boolean finished = !longRec.tokens.isEmpty();
                if (decodeRows > 0 && !finished) {
                    shared++;
                    assertEquals(cap == 0 ? STEP - decodeRows : cap, chunk, "partial chunk beside " + decodeRows
                            + " decode rows");
                } else if (decodeRows == 0) {
                    alone++;
                    assertEquals(Math.min(STEP, left), chunk, "alone, the long prompt takes the whole step");
                } else {
                    assertEquals(left, chunk, "the last chunk finishes the prompt");
                }
                computed += chunk;
            }
            assertEquals(longLength, computed, "every prompt position computed once");
            assertTrue(shared > 0, "some chunks shared steps with decode rows");
            if (cap > 0) {
                assertTrue(alone > 0, "the capped prompt outlived the decoders and ran alone");
            }
            while (s.busy()) {
                s.step();
            }
            for (int i = 0; i < reqs.size(); i++) {
                BatchScheduler.Request r = reqs.get(i);
                int[] expected = new Generator(new CpuForwardPass(model, k, STEP))
                        .generate(r.prompt(), r.maxTokens(), GREEDY, new int[0], null, null).tokens();
                assertArrayEquals(expected, sinks.get(i).ids(), r.id() + " batched vs alone");
            }
            assertEquals(s.stats().kvBlocksTotal(), s.stats().kvBlocksFree());
        }
    }

    /**
     * The cap is for steps that others wait on: a prompt that finishes this step caps a partial
     * chunk beside it, but two long prompts with nobody else fill the step.
     */
    @Test
    void theLongPrefillCapAppliesOnlyBesideRowsThatFinish() throws Exception {
        try (Model model = Model.load(FIXTURES.resolve("llama32-like").resolve("model-q8_0.gguf"))) {
            ModelConfig c = model.config();
            BatchScheduler.Options o = BatchScheduler.Options.defaults(16L << 20).withLongPrefillChunk(4);
            BatchScheduler twoLong = new BatchScheduler(new CpuForwardPass(model, Backends.kernels(), STEP), o);
            twoLong.submit(request("a", "t", prompt(c, 60, 1), 1), new Recorder());
            twoLong.submit(request("b", "t", prompt(c, 80, 2), 1), new Recorder());
            twoLong.step();
            assertEquals(1, twoLong.stats().lastBatchSize(), "the shorter long prompt first");
            assertEquals(STEP, twoLong.stats().lastStepRows(), "no cap with nobody waiting");

            BatchScheduler beside = new BatchScheduler(new CpuForwardPass(model, Backends.kernels(), STEP), o);
            beside.submit(request("long", "t", prompt(c, 60, 1), 1), new Recorder());
            beside.submit(request("short", "t", prompt(c, 6, 2), 1), new Recorder());
            beside.step();
            assertEquals(2, beside.stats().lastBatchSize());
            assertEquals(6 + 4, beside.stats().lastStepRows(), "the short prompt finishes; the long chunk is capped");
            assertThrows(IllegalArgumentException.class, () -> o.withLongPrefillChunk(-1));
        }
    }

    static BatchScheduler.Request withLogprobs(String id, String tenant, int[] prompt) {
        return new BatchScheduler.Request(id, tenant, 0, 1.0, prompt, 8, GREEDY, new int[0], 5);
    }

    static Recorder runOne(BatchScheduler s, BatchScheduler.Request r) {
        Recorder rec = new Recorder();
        s.submit(r, rec);
        for (int i = 0; s.busy(); i++) {
            assertTrue(i < 1000);
            s.step();
        }
        return rec;
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
