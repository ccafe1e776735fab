package dev.shardlight.cli;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.KvBlockPool;
import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.engine.runtime.TokenLogprobs;

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
 *   first token of the requests they send, against the same request on an idle engine, and
 *   against the same number of requests from the same clients with no long prompt; with the
 *   decode inter-token gaps in both phases (what a policy that favours new prompts costs the
 *   streams), for each cap of {@code --long-prefill-chunk} (0: off);</li>
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
                + " [--system-tokens 1000]"
                + " [--questions 16] [--kv-mb 2048] [--threads N] [--json]";
    }

    /** One request's first token, last token and end, as seen by its sink. */
    private static final class Timing {
        final long submitted = System.nanoTime();
        final Window window;
        final long submitStep;
        long firstStep;
        long firstToken;
        long lastToken;
        int tokens;
        boolean done;

        Timing(Window window) {
            this.window = window;
            this.submitStep = window == null ? 0 : window.steps;
        }
    }

    /** While open, every gap between two tokens of one stream (the step time its reader sees). */
    private static final class Window {
        boolean open;
        long steps;
        final List<Double> gapsMs = new ArrayList<>();
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
                int longPrompt = a.getInt("long-prompt", 4000);
                int streams = a.getInt("ttft-streams", 16);
                int promptTokens = a.getInt("prompt-tokens", 32);
                int gen = a.getInt("gen-tokens", 32);
                out.printf("  ttft    %d closed-loop streams of %d-token prompts, %d-%d tokens each; alone = the same"
                        + " prompt on an idle engine, median of 3, measured before each cap%n", streams, promptTokens,
                        Math.max(1, gen / 2), gen / 2 + gen);
                StringBuilder j = new StringBuilder("\"ttft\":{\"streams\":" + streams + ",\"long_prompt\":" + longPrompt
                        + ",\"runs\":[");
                String chunks = a.get("long-prefill-chunk") == null
                        ? String.valueOf(BatchScheduler.Options.DEFAULT_LONG_PREFILL_CHUNK) : a.get("long-prefill-chunk");
                for (String chunkArg : chunks.split(",")) {
                    int chunk = Integer.parseInt(chunkArg.trim());
                    double unloaded = unloadedTtft(forward, kvBytes, c, rnd, promptTokens);
                    Phase loaded = closedLoop(forward, kvBytes, c, rnd, streams, promptTokens, gen, chunk, longPrompt, 0);
                    Phase quiet = closedLoop(forward, kvBytes, c, rnd, streams, promptTokens, gen, chunk, 0,
                            loaded.requests());
                    out.printf("  ttft    long-prefill-chunk %s: alone %.0f ms%n", chunk == 0 ? "off" : String.valueOf(chunk),
                            unloaded);
                    out.printf("            no long prompt        %s%n", quiet.describe(unloaded));
                    out.printf("            %5d-token prompt in  %s; the long prompt's own TTFT %.0f ms%n",
                            longPrompt, loaded.describe(unloaded), loaded.longTtftMs());
                    j.append(j.charAt(j.length() - 1) == '[' ? "" : ",").append("{\"long_prefill_chunk\":").append(chunk)
                            .append(",\"unloaded_ms\":").append(Json.number(unloaded))
                            .append(",\"without_long\":").append(quiet.json(unloaded))
                            .append(",\"with_long\":").append(loaded.json(unloaded)).append('}');
                }
                json.add(j.append("]}").toString());
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
                    long windowed = (long) dev.shardlight.engine.runtime.PagedKvCache.blocksFor(c,
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

    /** Median TTFT of three prompts on an idle engine, after one warm-up. */
    private static double unloadedTtft(CpuForwardPass forward, long kvBytes, ModelConfig c, SplittableRandom rnd,
                                       int promptTokens) {
        BatchScheduler s = scheduler(forward, kvBytes, 1, 0);
        submit(s, null, "warm-up", random(rnd, c, promptTokens), 1);
        runUntilIdle(s);
        double[] alone = new double[3];
        for (int r = 0; r < alone.length; r++) {
            Timing t = submit(s, null, "alone" + r, random(rnd, c, promptTokens), 1);
            runUntilIdle(s);
            alone[r] = (t.firstToken - t.submitted) / 1e6;
        }
        return median(alone);
    }

    /**
     * {@code streams} closed-loop clients (each sends its next request when the last one ends, for
     * a number of tokens drawn from [gen/2, 3gen/2] so that clients do not stay in step), first run
     * until each has finished a request (past the start-up burst); then, with {@code longPrompt} > 0,
     * one prompt of that length is submitted and the phase lasts until its first token, otherwise
     * it lasts until {@code requests} new requests were sent. Requests sent during the phase are
     * timed (to their first token, even after the phase), and so are the gaps between the tokens
     * of every stream while the phase lasts.
     */
    private static Phase closedLoop(CpuForwardPass forward, long kvBytes, ModelConfig c, SplittableRandom rnd, int streams,
                                    int promptTokens, int gen, int longPrefillChunk, int longPrompt, int requests) {
        BatchScheduler s = scheduler(forward, kvBytes, streams + 1, longPrefillChunk);
        SplittableRandom lengths = new SplittableRandom(7); // every phase sees the same lengths
        Window window = new Window();
        List<Timing> live = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            live.add(submit(s, window, "c" + i, random(rnd, c, promptTokens), jitter(lengths, gen)));
        }
        boolean[] finishedOne = new boolean[streams];
        int finishedClients = 0;
        for (int step = 0; finishedClients < streams; step++) {
            if (step > 100 * gen) {
                throw new IllegalStateException("closed-loop warm-up did not finish in " + step + " steps");
            }
            step(s, window);
            for (int i = 0; i < streams; i++) {
                if (live.get(i).done) {
                    finishedClients += finishedOne[i] ? 0 : 1;
                    finishedOne[i] = true;
                    live.set(i, submit(s, window, "c" + i, random(rnd, c, promptTokens), jitter(lengths, gen)));
                }
            }
        }
        window.open = true;
        Timing longOne = longPrompt > 0 ? submit(s, window, "long", random(rnd, c, longPrompt), 1) : null;
        List<Timing> during = new ArrayList<>();
        while (longOne != null ? !longOne.done : during.size() < requests) {
            step(s, window);
            for (int i = 0; i < live.size(); i++) {
                boolean measuring = longOne != null ? !longOne.done : during.size() < requests;
                if (live.get(i).done && measuring) {
                    Timing next = submit(s, window, "c" + i, random(rnd, c, promptTokens), jitter(lengths, gen));
                    live.set(i, next);
                    during.add(next);
                }
            }
        }
        window.open = false;
        while (s.busy()) {
            step(s, window);
        }
        double[] ttft = during.stream().filter(t -> t.tokens > 0).mapToDouble(t -> (t.firstToken - t.submitted) / 1e6)
                .toArray();
        double[] gaps = window.gapsMs.stream().mapToDouble(Double::doubleValue).toArray();
        double[] ttftSteps = during.stream().filter(t -> t.tokens > 0).mapToDouble(t -> t.firstStep - t.submitStep + 1)
                .toArray();
        return new Phase(ttft, ttftSteps, gaps, longOne == null ? Double.NaN : (longOne.firstToken - longOne.submitted) / 1e6);
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

    private static Timing submit(BatchScheduler s, Window window, String id, int[] prompt, int maxTokens) {
        Timing t = new Timing(window);
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
                long now = System.nanoTime();
                if (t.tokens++ == 0) {
                    t.firstToken = now;
                    t.firstStep = t.window == null ? 0 : t.window.steps;
                } else if (t.window != null && t.window.open) {
                    t.window.gapsMs.add((now - t.lastToken) / 1e6);
                }
                t.lastToken = now;
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

    private static void step(BatchScheduler s, Window window) {
        s.step();
        window.steps++;
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
