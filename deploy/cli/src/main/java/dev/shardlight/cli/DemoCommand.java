package dev.shardlight.cli;

import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.SamplingParams;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * `shardlight demo`: the whole engine path on a model anyone has — a random-weight Gemma 3 270M
 * (real shapes, Q8_0) made on first use — then a short benchmark. The text is noise by design.
 */
final class DemoCommand implements Subcommand {
    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "demo [--model PATH] [--max-tokens 32] [--threads N]  (random-weight Gemma 3 270M when no model is given)";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "max-tokens", "threads"), Set.of()).noPositional();
        String model = a.get("model");
        boolean random = model == null;
        if (random) {
            model = RandomGemma.ensure(err).toString();
        }
        int maxTokens = a.getInt("max-tokens", 32);
        try (LoadedModel m = LoadedModel.open(model, a.getInt("threads", 0))) {
            var c = m.forward().config();
            out.println("model:   " + model);
            out.println("config:  " + c);
            out.printf(Locale.ROOT, "backend: %s, weights %.0f MB memory-mapped, loaded in %d ms%n", m.forward().backend(),
                    m.model().weights().matrixBytes() / 1e6, m.loadNanos() / 1_000_000);
            if (random) {
                out.println("NOTE:    this model has RANDOM weights, so its tokens are noise; every step (GGUF, mmap,"
                        + " kernels, KV cache, sampling) is the real path. Use --model for a real checkpoint.");
            }
            // <bos><start_of_turn>user\n ... as ids: BOS, then a fixed pseudo-prompt inside the vocabulary.
            int[] prompt = new int[24];
            prompt[0] = c.bos();
            for (int i = 1; i < prompt.length; i++) {
                prompt[i] = (int) ((i * 7919L + 105) % c.vocab());
            }
            Generation g = new Generator(m.forward()).generate(prompt, maxTokens,
                    new SamplingParams(0.8f, 64, 0.95f, 0f, 1f, 0f, 0f, 7L), null, null, null);
            out.println("prompt:  " + Json.ids(g.promptTokens()));
            out.println("output:  " + Json.ids(g.tokens()) + "  (" + g.finishReason().name().toLowerCase(Locale.ROOT) + ")");
            out.printf(Locale.ROOT, "speed:   prefill %.1f tok/s, decode %.1f tok/s (one run; `shardlight bench` for medians)%n",
                    g.prefillTokensPerSecond(), g.decodeTokensPerSecond());
        }
        return 0;
    }
}
