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
 *   first token of the requests they send, against the same request on an idle engine;</li>
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
                + " [--gen-tokens 32] [--step-tokens 64] [--long-prompt 4000] [--ttft-streams 16] [--system-tokens 1000]"
                + " [--questions 16] [--kv-mb 2048] [--threads N] [--json]";
    }

    private record Timing(long submitted, long[] firstToken, int[] tokens, boolean[] done) {
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "parts", "streams", "prompt-tokens", "gen-tokens", "step-tokens",
                "long-prompt", "ttft-streams", "system-tokens", "questions", "kv-mb", "threads"), Set.of("json")).noPositional();
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
                BatchScheduler s = scheduler(forward, kvBytes, streams + 1);
                double[] alone = new double[3];
                for (int r = 0; r < alone.length; r++) {
                    Timing t = submit(s, "alone" + r, random(rnd, c, promptTokens), 1);
                    runUntilIdle(s);
                    alone[r] = (t.firstToken[0] - t.submitted) / 1e6;
                }
                double unloaded = median(alone);
                // 16 closed-loop clients: each sends its next request as soon as the last one ends
                List<Timing> live = new ArrayList<>();
                for (int i = 0; i < streams; i++) {
                    live.add(submit(s, "c" + i, random(rnd, c, promptTokens), gen));
                }
                for (int i = 0; i < 2 * streams && s.busy(); i++) {
                    s.step(); // reach a steady state: everyone decoding
                    live.replaceAll(t -> t.done[0] ? submit(s, "c", random(rnd, c, promptTokens), gen) : t);
                }
                Timing longOne = submit(s, "long", random(rnd, c, longPrompt), 1);
                List<Timing> during = new ArrayList<>();
                while (!longOne.done[0]) {
                    s.step();
                    for (int i = 0; i < live.size(); i++) {
                        if (live.get(i).done[0] && !longOne.done[0]) {
                            Timing next = submit(s, "c" + i, random(rnd, c, promptTokens), gen);
                            live.set(i, next);
                            during.add(next);
                        }
                    }
                }
                runUntilIdle(s);
                double[] ttft = during.stream().filter(t -> t.tokens[0] > 0)
                        .mapToDouble(t -> (t.firstToken[0] - t.submitted) / 1e6).toArray();
                Arrays.sort(ttft);
                double p99 = ttft.length == 0 ? Double.NaN : ttft[(int) Math.ceil(0.99 * ttft.length) - 1];
                double p50 = ttft.length == 0 ? Double.NaN : ttft[ttft.length / 2];
                double longTtft = (longOne.firstToken[0] - longOne.submitted) / 1e6;
                out.printf("  ttft    alone (median of 3): %.0f ms; %d closed-loop streams while a %d-token prompt"
                                + " prefills: %d new requests, p50 %.0f ms, p99 %.0f ms (%.2fx alone); the long prompt's"
                                + " own TTFT %.0f ms%n",
                        unloaded, streams, longPrompt, ttft.length, p50, p99, p99 / unloaded, longTtft);
                json.add("\"ttft\":{\"unloaded_ms\":" + Json.number(unloaded) + ",\"requests\":" + ttft.length
                        + ",\"p50_ms\":" + Json.number(p50) + ",\"p99_ms\":" + Json.number(p99)
                        + ",\"p99_over_unloaded\":" + Json.number(p99 / unloaded)
                        + ",\"long_prompt_ttft_ms\":" + Json.number(longTtft) + "}");
            }
            if (parts.contains("prefix")) {
                int system = a.getInt("system-tokens", 1000);
                int questions = a.getInt("questions", 16);
                BatchScheduler s = scheduler(forward, kvBytes, 64);
                int[] sys = random(rnd, c, system);
                double[] ms = new double[questions];
                int cached = 0;
                for (int i = 0; i < questions; i++) {
                    int[] q = random(rnd, c, 24);
                    int[] p = Arrays.copyOf(sys, system + q.length);
                    System.arraycopy(q, 0, p, system, q.length);
                    Timing t = submit(s, "q" + i, p, 1);
                    runUntilIdle(s);
                    ms[i] = (t.firstToken[0] - t.submitted) / 1e6;
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

    private static BatchScheduler scheduler(CpuForwardPass forward, long kvBytes, int maxRunning) {
        return new BatchScheduler(forward, new BatchScheduler.Options(kvBytes, KvBlockPool.DEFAULT_BLOCK_SIZE, maxRunning,
                true, false));
    }

    /** Aggregate decode tok/s of {@code streams} sequences, over the steps that were pure decode. */
    private static double decode(CpuForwardPass forward, long kvBytes, ModelConfig c, SplittableRandom rnd, int streams,
                                 int promptTokens, int gen) {
        BatchScheduler s = scheduler(forward, kvBytes, Math.max(streams, 1));
        for (int i = 0; i < streams; i++) {
            submit(s, "d" + i, random(rnd, c, promptTokens), gen);
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

    private static Timing submit(BatchScheduler s, String id, int[] prompt, int maxTokens) {
        Timing t = new Timing(System.nanoTime(), new long[1], new int[1], new boolean[1]);
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
                if (t.tokens[0]++ == 0) {
                    t.firstToken[0] = System.nanoTime();
                }
            }

            @Override
            public void finished(BatchScheduler.Result r) {
                t.done[0] = true;
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

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
