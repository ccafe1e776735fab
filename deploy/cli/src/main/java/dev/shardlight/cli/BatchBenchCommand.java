package dev.shardlight.cli;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.KvBlockPool;
import dev.shardlight.engine.runtime.PagedKvCache;
import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.engine.runtime.TokenLogprobs;
import dev.shardlight.engine.runtime.Warmup;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * `shardlight bench-batch`: the continuous-batching engine (the replica's {@link BatchScheduler},
 * without the cluster around it) under concurrency, on random prompt tokens:
 * <ul>
 *   <li>decode: aggregate tokens/s of N concurrent greedy streams, over the steps where every
 *   row is a decode row, for each N of {@code --streams};</li>
 *   <li>ttft: {@code --ttft-streams} closed-loop clients (each sends its next short request when
 *   the last ends); while one {@code --long-prompt}-token prompt is being prefilled, the time to
 *   first token of the requests they send, against the same prompt on an idle engine, and
 *   against the same clients over the same steps with no long prompt; with the decode inter-token
 *   gaps in both (what a policy that favours new prompts costs the streams), for each cap of
 *   {@code --long-prefill-chunk} (0: off). The loads and the idle engine run on their own
 *   schedulers, stepped in turn, each timed by the sum of its own steps, so that other processes'
 *   load falls on all of them alike;</li>
 *   <li>prefix: prompt processing (submit to first token) of requests sharing a
 *   {@code --system-tokens} prefix, the first (cold) against the median of the rest;</li>
 *   <li>kv: KV bytes a sequence of 8K and 32K positions holds with sliding layers giving blocks
 *   back, against a cache that keeps every layer's keys.</li>
 * </ul>
 * Each part is one run on a machine that may be busy: read ratios, which are measured side by side.
 */
final class BatchBenchCommand implements Subcommand {
    @Override
    public String name() {
        return "bench-batch";
    }

    @Override
    public String summary() {
        return "bench-batch --model PATH [--parts decode,ttft,prefix,kv] [--streams 1,4,8,16] [--prompt-tokens 32]"
                + " [--gen-tokens 32] [--step-tokens 64] [--long-prompt 4000] [--ttft-streams 16] [--long-prefill-chunk 0,16]"
                + " [--system-tokens 1000] [--questions 16] [--kv-mb 2048] [--threads N] [--json]";
    }

    /**
     * One request's first token and end, as seen by its sink: by wall clock, and on a lane by the
     * lane steps that produced its tokens.
     */
    private static final class Timing {
        final long submitted = System.nanoTime();
        final Lane lane;
        final int submitStep;
        int firstStep;
        int lastStep;
        long firstToken;
        int tokens;
        boolean done;

        Timing(Lane lane) {
            this.lane = lane;
            this.submitStep = lane == null ? 0 : lane.steps();
        }
    }

    /**
     * A scheduler stepped in turn with other lanes on the one engine thread, so that load from
     * other processes falls on every lane alike. Its clock is the sum of its own steps' durations;
     * while it is measuring it keeps every gap between two tokens of one stream.
     */
    private static final class Lane {
        final BatchScheduler s;
        final List<Long> clock = new ArrayList<>(List.of(0L));
        final List<int[]> gaps = new ArrayList<>();
        boolean measuring;

        Lane(BatchScheduler s) {
            this.s = s;
        }

        int steps() {
            return clock.size() - 1;
        }

        void step() {
            long t0 = System.nanoTime();
            s.step();
            clock.add(clock.get(steps()) + System.nanoTime() - t0);
        }

        /** Lane time from the end of step {@code from} to the end of step {@code to}. */
        double ms(int from, int to) {
            return (clock.get(to) - clock.get(from)) / 1e6;
        }
    }

    /**
     * {@code streams} closed-loop clients on one lane: each sends its next request when its last one
     * ends, for a number of tokens drawn from [gen/2, 3gen/2] so that clients do not stay in step.
     * While measuring, the requests they send are timed (to their first token, even after), and so
     * is the long prompt, when the load has one.
     */
    private static final class ClosedLoop {
        final Lane lane;
        final int cap;
        final SplittableRandom rnd;
        final SplittableRandom lengths = new SplittableRandom(7); // every load sees the same lengths
        final ModelConfig c;
        final int promptTokens;
        final int gen;
        final List<Timing> live = new ArrayList<>();
        final List<Timing> during = new ArrayList<>();
        final boolean[] finishedOne;
        int finishedClients;
        Timing longOne;

        ClosedLoop(BatchScheduler s, int cap, SplittableRandom rnd, ModelConfig c, int streams, int promptTokens, int gen) {
            this.lane = new Lane(s);
            this.cap = cap;
            this.rnd = rnd;
            this.c = c;
            this.promptTokens = promptTokens;
            this.gen = gen;
            this.finishedOne = new boolean[streams];
            for (int i = 0; i < streams; i++) {
                live.add(next(i));
            }
        }

        private Timing next(int client) {
            return submit(lane, "c" + client, random(rnd, c, promptTokens), jitter(lengths, gen));
        }

        /** Past the start-up burst: every client has finished a request. */
        boolean warm() {
            return finishedClients == live.size();
        }

        void step() {
            lane.step();
            for (int i = 0; i < live.size(); i++) {
                if (live.get(i).done && (lane.measuring || !warm())) {
                    finishedClients += finishedOne[i] ? 0 : 1;
                    finishedOne[i] = true;
                    live.set(i, next(i));
                    if (lane.measuring) {
                        during.add(live.get(i));
                    }
                }
            }
        }

        Phase phase() {
            List<Timing> answered = during.stream().filter(t -> t.tokens > 0).toList();
            return new Phase(answered.stream().mapToDouble(t -> lane.ms(t.submitStep, t.firstStep)).toArray(),
                    answered.stream().mapToDouble(t -> t.firstStep - t.submitStep).toArray(),
                    lane.gaps.stream().mapToDouble(g -> lane.ms(g[0], g[1])).toArray(),
                    longOne == null ? Double.NaN : lane.ms(longOne.submitStep, longOne.firstStep));
        }
    }

    /**
     * One closed-loop phase: TTFT of the requests sent while it ran, the decode inter-token gaps
     * seen meanwhile, and the long prompt's own TTFT (NaN without one).
     */
    private record Phase(double[] ttftMs, double[] ttftSteps, double[] gapsMs, double longTtftMs) {
        int requests() {
            return ttftMs.length;
        }

        String describe(double unloaded) {
            return String.format("%3d requests: TTFT p50 %5.0f ms (%.2fx alone), p99 %5.0f ms (%.2fx), max %5.0f ms;"
                            + " steps p50 %.0f, p99 %.0f; decode inter-token median %4.0f ms, p99 %4.0f ms", requests(),
                    percentile(ttftMs, 0.5), percentile(ttftMs, 0.5) / unloaded, percentile(ttftMs, 0.99),
                    percentile(ttftMs, 0.99) / unloaded, percentile(ttftMs, 1), percentile(ttftSteps, 0.5),
                    percentile(ttftSteps, 0.99), percentile(gapsMs, 0.5), percentile(gapsMs, 0.99));
        }

        String json(double unloaded) {
            return "{\"requests\":" + requests() + ",\"p50_ms\":" + Json.number(percentile(ttftMs, 0.5))
                    + ",\"p99_ms\":" + Json.number(percentile(ttftMs, 0.99))
                    + ",\"p99_over_unloaded\":" + Json.number(percentile(ttftMs, 0.99) / unloaded)
                    + ",\"max_ms\":" + Json.number(percentile(ttftMs, 1))
                    + ",\"p50_steps\":" + Json.number(percentile(ttftSteps, 0.5))
                    + ",\"p99_steps\":" + Json.number(percentile(ttftSteps, 0.99))
                    + ",\"inter_token_median_ms\":" + Json.number(percentile(gapsMs, 0.5))
                    + ",\"inter_token_p99_ms\":" + Json.number(percentile(gapsMs, 0.99))
                    + (Double.isNaN(longTtftMs) ? "" : ",\"long_prompt_ttft_ms\":" + Json.number(longTtftMs)) + "}";
        }
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "parts", "streams", "prompt-tokens", "gen-tokens", "step-tokens",
                "long-prompt", "ttft-streams", "long-prefill-chunk", "system-tokens", "questions", "kv-mb", "threads"), Set.of("json")).noPositional();
        List<String> parts = Arrays.asList((a.get("parts") == null ? "decode,ttft,prefix,kv" : a.get("parts")).split(","));
        int stepTokens = a.getInt("step-tokens", 64);
        long kvBytes = a.getLong("kv-mb") == null ? 2048L << 20 : a.getLong("kv-mb") << 20;
        int threads = a.getInt("threads", 0);
        List<String> json = new ArrayList<>();
        try (Model model = Model.load(Path.of(a.required("model")))) {
            Kernels kernels = threads > 0
                    ? Backends.create(System.getProperty(Backends.KERNELS_PROPERTY, ""), threads) : Backends.kernels();
            CpuForwardPass forward = new CpuForwardPass(model, kernels, stepTokens);
            Warmup.run(forward, Warmup.REPLICA_BUDGET_NANOS); // as a replica's kernels (see BenchCommand)
            ModelConfig c = model.config();
            SplittableRandom rnd = new SplittableRandom(1);
            out.printf("%s  %s  step %d tokens%n", a.required("model"), forward.backend(), stepTokens);
            if (parts.contains("decode")) {
                int promptTokens = a.getInt("prompt-tokens", 32);
                int gen = a.getInt("gen-tokens", 32);
                StringBuilder j = new StringBuilder("\"decode\":{");
                double single = 0;
                decode(forward, kvBytes, c, rnd, 1, promptTokens, 4); // warm-up
                for (String n : (a.get("streams") == null ? "1,4,8,16" : a.get("streams")).split(",")) {
                    int streams = Integer.parseInt(n.trim());
                    double tokS = decode(forward, kvBytes, c, rnd, streams, promptTokens, gen);
                    if (streams == 1) {
                        single = tokS;
                    }
                    out.printf("  decode  %2d streams: %7.1f tok/s aggregate%s%n", streams, tokS,
                            single > 0 ? String.format("  (%.2fx one stream)", tokS / single) : "");
                    j.append(j.charAt(j.length() - 1) == '{' ? "" : ",").append('"').append(streams).append("\":")
                            .append(Json.number(tokS));
                }
                json.add(j.append('}').toString());
            }
            if (parts.contains("ttft")) {
                int streams = a.getInt("ttft-streams", 16);
                int promptTokens = a.getInt("prompt-tokens", 32);
                int gen = a.getInt("gen-tokens", 32);
                String chunks = a.get("long-prefill-chunk") == null
                        ? "0," + BatchScheduler.Options.DEFAULT_LONG_PREFILL_CHUNK : a.get("long-prefill-chunk");
                int[] caps = Arrays.stream(chunks.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
                out.printf("  ttft    %d closed-loop streams of %d-token prompts, %d-%d tokens each%n", streams, promptTokens,
                        Math.max(1, gen / 2), gen / 2 + gen);
                json.add(ttft(forward, kvBytes, c, rnd, streams, promptTokens, gen, a.getInt("long-prompt", 4000), caps, out));
            }
            if (parts.contains("prefix")) {
                int system = a.getInt("system-tokens", 1000);
                int questions = a.getInt("questions", 16);
                BatchScheduler s = scheduler(forward, kvBytes, 64, 0);
                int[] sys = random(rnd, c, system);
                double[] ms = new double[questions];
                int cached = 0;
                for (int i = 0; i < questions; i++) {
                    int[] q = random(rnd, c, 24);
                    int[] p = Arrays.copyOf(sys, system + q.length);
                    System.arraycopy(q, 0, p, system, q.length);
                    Timing t = submit(s, null, "q" + i, p, 1);
                    runUntilIdle(s);
                    ms[i] = (t.firstToken - t.submitted) / 1e6;
                }
                double rest = median(Arrays.copyOfRange(ms, 1, ms.length));
                cached = (int) (s.stats().prefixHitTokens() / Math.max(1, questions - 1));
                out.printf("  prefix  %d-token shared prompt: first request %.0f ms, requests 2..%d median %.0f ms"
                        + " (%.1fx faster; %d cached tokens each)%n", system, ms[0], questions, rest, ms[0] / rest, cached);
                json.add("\"prefix\":{\"first_ms\":" + Json.number(ms[0]) + ",\"rest_median_ms\":" + Json.number(rest)
                        + ",\"speedup\":" + Json.number(ms[0] / rest) + ",\"cached_tokens\":" + cached + "}");
            }
            if (parts.contains("kv")) {
                StringBuilder j = new StringBuilder("\"kv\":{");
                for (int ctx : new int[] {8192, 32768}) {
                    long perBlock = KvBlockPool.bytesPerBlock(c, KvBlockPool.DEFAULT_BLOCK_SIZE);
                    long windowed = (long) PagedKvCache.blocksFor(c,
                            KvBlockPool.DEFAULT_BLOCK_SIZE, ctx, forward.rewindSlack())
                            * perBlock;
                    long full = (long) c.layers() * ((ctx + KvBlockPool.DEFAULT_BLOCK_SIZE - 1) / KvBlockPool.DEFAULT_BLOCK_SIZE)
                            * perBlock;
                    out.printf("  kv      %5d positions: %7.1f MiB with sliding layers releasing blocks, %7.1f MiB keeping all"
                            + " (%.1fx less; float32)%n", ctx, windowed / 1048576.0, full / 1048576.0, (double) full / windowed);
                    j.append(j.charAt(j.length() - 1) == '{' ? "" : ",").append("\"").append(ctx).append("\":{\"windowed_bytes\":")
                            .append(windowed).append(",\"all_layers_bytes\":").append(full).append('}');
                }
                json.add(j.append('}').toString());
            }
        }
        if (a.flag("json")) {
            out.println("{" + String.join(",", json) + "}");
        }
        return 0;
    }

    private static BatchScheduler scheduler(CpuForwardPass forward, long kvBytes, int maxRunning, int longPrefillChunk) {
        return new BatchScheduler(forward, new BatchScheduler.Options(kvBytes, KvBlockPool.DEFAULT_BLOCK_SIZE, maxRunning,
                true, false, longPrefillChunk));
    }

    /**
     * For each cap, two closed-loop loads stepped in lockstep, one with a long prompt submitted when
     * measuring starts and one without, measured until the long prompt's first token; all loads
     * and an idle lane take turns, the idle one timing a lone prompt every 8 rounds (the unloaded
     * TTFT, median of those).
     */
    private static String ttft(CpuForwardPass forward, long kvBytes, ModelConfig c, SplittableRandom rnd, int streams,
                               int promptTokens, int gen, int longPrompt, int[] caps, PrintStream out) {
        int bs = KvBlockPool.DEFAULT_BLOCK_SIZE;
        long need = 2L * KvBlockPool.bytesPerBlock(c, bs)
                * ((long) streams * PagedKvCache.blocksFor(c, bs, promptTokens + gen / 2 + gen + 1, forward.rewindSlack())
                + PagedKvCache.blocksFor(c, bs, longPrompt + 2, forward.rewindSlack()));
        long poolBytes = Math.min(kvBytes, need); // 2x what the load holds: room for cached prefixes
        List<ClosedLoop[]> pairs = new ArrayList<>();
        for (int cap : caps) {
            pairs.add(new ClosedLoop[] {
                    new ClosedLoop(scheduler(forward, poolBytes, streams + 1, cap), cap, rnd, c, streams, promptTokens, gen),
                    new ClosedLoop(scheduler(forward, poolBytes, streams + 1, cap), cap, rnd, c, streams, promptTokens, gen)});
        }
        Lane idle = new Lane(scheduler(forward, poolBytes, 1, 0));
        lone(idle, c, rnd, promptTokens); // warm-up
        for (int round = 0; pairs.stream().anyMatch(p -> !p[0].warm() || !p[1].warm()); round++) {
            if (round > 100 * gen) {
                throw new IllegalStateException("closed-loop warm-up did not finish in " + round + " steps");
            }
            for (ClosedLoop[] p : pairs) {
                for (ClosedLoop l : p) {
                    if (!l.warm()) {
                        l.step();
                    }
                }
            }
        }
        System.gc(); // not inside the measured rounds
        for (ClosedLoop[] p : pairs) {
            p[0].lane.measuring = true;
            p[1].lane.measuring = true;
            p[0].longOne = submit(p[0].lane, "long", random(rnd, c, longPrompt), 1);
        }
        List<Double> alone = new ArrayList<>();
        for (int round = 0; pairs.stream().anyMatch(p -> p[0].lane.measuring); round++) {
            for (ClosedLoop[] p : pairs) {
                if (p[0].lane.measuring) {
                    p[0].step();
                    p[1].step();
                    if (p[0].longOne.tokens > 0) {
                        p[0].lane.measuring = false;
                        p[1].lane.measuring = false;
                    }
                }
            }
            if (round % 8 == 0) {
                alone.add(lone(idle, c, rnd, promptTokens));
            }
        }
        for (boolean busy = true; busy; ) { // the last requests' first tokens
            busy = false;
            for (ClosedLoop[] p : pairs) {
                for (ClosedLoop l : p) {
                    if (l.lane.s.busy()) {
                        l.lane.step();
                        busy = true;
                    }
                }
            }
        }
        double unloaded = median(alone.stream().mapToDouble(Double::doubleValue).toArray());
        out.printf("  ttft    alone %.0f ms (median of %d lone prompts on an idle engine, taken in turn with the loads)%n",
                unloaded, alone.size());
        StringBuilder j = new StringBuilder("\"ttft\":{\"unloaded_ms\":" + Json.number(unloaded) + ",\"streams\":"
                + streams + ",\"long_prompt\":" + longPrompt + ",\"runs\":[");
        for (ClosedLoop[] p : pairs) {
            Phase loaded = p[0].phase();
            Phase quiet = p[1].phase();
            out.printf("  ttft    long-prefill-chunk %s:%n", p[0].cap == 0 ? "off" : String.valueOf(p[0].cap));
            out.printf("            no long prompt        %s%n", quiet.describe(unloaded));
            out.printf("            %5d-token prompt in  %s; the long prompt's own TTFT %.0f ms%n",
                    longPrompt, loaded.describe(unloaded), loaded.longTtftMs());
            j.append(j.charAt(j.length() - 1) == '[' ? "" : ",").append("{\"long_prefill_chunk\":").append(p[0].cap)
                    .append(",\"without_long\":").append(quiet.json(unloaded))
                    .append(",\"with_long\":").append(loaded.json(unloaded)).append('}');
        }
        return j.append("]}").toString();
    }

    /** TTFT of one prompt on an idle lane. */
    private static double lone(Lane idle, ModelConfig c, SplittableRandom rnd, int promptTokens) {
        Timing t = submit(idle, "alone", random(rnd, c, promptTokens), 1);
        while (idle.s.busy()) {
            idle.step();
        }
        return idle.ms(t.submitStep, t.firstStep);
    }

    /** Aggregate decode tok/s of {@code streams} sequences, over the steps that were pure decode. */
    private static double decode(CpuForwardPass forward, long kvBytes, ModelConfig c, SplittableRandom rnd, int streams,
                                 int promptTokens, int gen) {
        BatchScheduler s = scheduler(forward, kvBytes, Math.max(streams, 1), 0);
        for (int i = 0; i < streams; i++) {
            submit(s, null, "d" + i, random(rnd, c, promptTokens), gen);
        }
        long decodeNanos = 0;
        long decodeRows = 0;
        while (s.busy()) {
            long t0 = System.nanoTime();
            s.step();
            long t1 = System.nanoTime();
            BatchScheduler.Stats st = s.stats();
            if (st.lastBatchSize() > 0 && st.lastStepRows() == st.lastBatchSize() && st.lastBatchSize() == streams) {
                decodeNanos += t1 - t0;
                decodeRows += st.lastStepRows();
            }
        }
        return decodeRows * 1e9 / Math.max(1, decodeNanos);
    }

    private static Timing submit(Lane lane, String id, int[] prompt, int maxTokens) {
        return submit(lane.s, lane, id, prompt, maxTokens);
    }

    private static Timing submit(BatchScheduler s, Lane lane, String id, int[] prompt, int maxTokens) {
        Timing t = new Timing(lane);
        s.submit(new BatchScheduler.Request(id, "bench", 0, 1.0, prompt, maxTokens, SamplingParams.GREEDY,
                new int[0], -1), new BatchScheduler.Sink() {
            @Override
            public boolean ready() {
                return true;
            }

            @Override
            public boolean cancelled() {
                return false;
            }

            @Override
            public void token(int token, TokenLogprobs lp) {
                int step = t.lane == null ? 0 : t.lane.steps() + 1; // the step in progress
                if (t.tokens++ == 0) {
                    t.firstToken = System.nanoTime();
                    t.firstStep = step;
                } else if (t.lane != null && t.lane.measuring) {
                    t.lane.gaps.add(new int[] {t.lastStep, step});
                }
                t.lastStep = step;
            }

            @Override
            public void finished(BatchScheduler.Result r) {
                t.done = true;
                if (r.outcome() == BatchScheduler.Outcome.ERROR) {
                    throw new IllegalStateException(r.message());
                }
            }
        });
        return t;
    }

    private static void runUntilIdle(BatchScheduler s) {
        while (s.busy()) {
            s.step();
        }
    }

    /** Random ids that are not the model's stop tokens (so streams run their full length most of the time). */
    private static int[] random(SplittableRandom rnd, ModelConfig c, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            int t;
            do {
                t = rnd.nextInt(c.vocab());
            } while (c.isStop(t));
            p[i] = t;
        }
        return p;
    }

    /** A completion length from [gen/2, 3gen/2] (mean gen), at least 1. */
    private static int jitter(SplittableRandom rnd, int gen) {
        return Math.max(1, gen / 2 + rnd.nextInt(gen + 1));
    }

    /** Nearest-rank percentile (p99 of fewer than 100 values is the largest); NaN when empty. */
    private static double percentile(double[] v, double p) {
        if (v.length == 0) {
            return Double.NaN;
        }
        double[] s = v.clone();
        Arrays.sort(s);
        return s[Math.max(0, (int) Math.ceil(p * s.length) - 1)];
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
