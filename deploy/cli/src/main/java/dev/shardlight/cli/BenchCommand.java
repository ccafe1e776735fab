package dev.shardlight.cli;

import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.ForwardPass;
import dev.shardlight.engine.runtime.KvCache;
import dev.shardlight.engine.runtime.Warmup;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.Set;

/**
 * `shardlight bench`: prefill and decode speed on random prompt tokens, after a warm-up, as the
 * median of several runs (llama-bench's pp/tg split: prefill tok/s over the prompt, decode tok/s
 * over generated tokens with the KV cache filled by the prompt), plus peak RSS. The kernels are
 * warmed up first as a replica's are ({@link Warmup}): without it, a kernel first used after the
 * prompt (the one-row Q4_0 loop, after a deoptimization) was once compiled on an empty profile
 * with its vectors boxed, and Llama 3.2 1B Q4_0 decoded at 1.6 tok/s instead of 11.5.
 */
final class BenchCommand implements Subcommand {

    @Override
    public String name() {
        return "bench";
    }

    @Override
    public String summary() {
        return "bench --model PATH [--prompt-tokens 512] [--gen-tokens 128] [--threads N] [--runs 3] [--json]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "prompt-tokens", "gen-tokens", "threads", "runs", "seed"), Set.of("json")).noPositional();
        int promptTokens = a.getInt("prompt-tokens", 512);
        int genTokens = a.getInt("gen-tokens", 128);
        int runs = a.getInt("runs", 3);
        if (promptTokens < 1 || genTokens < 1 || runs < 1) {
            throw new Args.UsageException("--prompt-tokens, --gen-tokens and --runs must be >= 1");
        }
        try (LoadedModel m = LoadedModel.open(a.required("model"), a.getInt("threads", 0))) {
            ForwardPass f = m.forward();
            ModelConfig c = f.config();
            if (f instanceof CpuForwardPass cpu) {
                // as a replica does before its first request, so the numbers are a serving replica's
                Warmup.run(cpu, Warmup.REPLICA_BUDGET_NANOS);
            }
            if (promptTokens + genTokens > c.contextLength()) {
                throw new Args.UsageException("prompt + gen tokens exceed the model's context of " + c.contextLength());
            }
            SplittableRandom rnd = new SplittableRandom(a.getLong("seed") == null ? 1 : a.getLong("seed"));
            int[] prompt = new int[promptTokens];
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = rnd.nextInt(c.vocab());
            }
            double[] pp = new double[runs];
            double[] tg = new double[runs];
            long kvBytes = 0;
            for (int r = -1; r < runs; r++) { // r = -1 is the warm-up
                KvCache cache = f.newCache(promptTokens + genTokens);
                float[] logits = new float[c.vocab()];
                long t0 = System.nanoTime();
                f.forward(cache, prompt, 0, prompt.length, logits, false);
                long t1 = System.nanoTime();
                int[] one = {argmax(logits)};
                for (int i = 0; i < genTokens; i++) {
                    f.forward(cache, one, 0, 1, logits, false);
                    one[0] = argmax(logits);
                }
                long t2 = System.nanoTime();
                if (r >= 0) {
                    pp[r] = promptTokens * 1e9 / (t1 - t0);
                    tg[r] = genTokens * 1e9 / (t2 - t1);
                }
                kvBytes = cache.bytes();
            }
            double ppMed = median(pp);
            double tgMed = median(tg);
            long rss = peakRssBytes();
            long weights = m.model().weights().matrixBytes();
            if (a.flag("json")) {
                out.println("{\"model\":" + Json.string(a.required("model")) + ",\"backend\":" + Json.string(f.backend())
                        + ",\"threads\":" + a.getInt("threads", 0)
                        + ",\"prompt_tokens\":" + promptTokens + ",\"gen_tokens\":" + genTokens + ",\"runs\":" + runs
                        + ",\"prefill_tok_s\":" + Json.number(ppMed) + ",\"decode_tok_s\":" + Json.number(tgMed)
                        + ",\"prefill_runs\":" + runsJson(pp) + ",\"decode_runs\":" + runsJson(tg)
                        + ",\"weights_bytes\":" + weights + ",\"kv_bytes\":" + kvBytes
                        + ",\"kv_bytes_per_token\":" + kvBytesPerToken(c)
                        + ",\"load_ms\":" + m.loadNanos() / 1_000_000
                        + ",\"peak_rss_bytes\":" + rss + "}");
            } else {
                out.printf("%s  %s%n  prefill pp%d: %.1f tok/s   decode tg%d: %.1f tok/s   (median of %d)%n"
                                + "  weights %.1f MB, KV %.1f MB, peak RSS %.1f MB, load %d ms%n",
                        a.required("model"), f.backend(), promptTokens, ppMed, genTokens, tgMed, runs,
                        weights / 1e6, kvBytes / 1e6, rss / 1e6, m.loadNanos() / 1_000_000);
            }
        }
        return 0;
    }

    /** Marginal KV bytes per token (float32 K and V of the global layers; sliding layers are a fixed ring). */
    static long kvBytesPerToken(ModelConfig c) {
        return (long) c.globalLayers() * c.kvDim() * 2 * Float.BYTES;
    }

    private static String runsJson(double[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) {
            sb.append(i == 0 ? "" : ",").append(Json.number(v[i]));
        }
        return sb.append(']').toString();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** VmHWM from /proc (Linux); -1 elsewhere. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception ignored) {
            // not Linux
        }
        return -1;
    }
}
