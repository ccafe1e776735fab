package dev.shardlight.cli;

import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.SamplingParams;

import java.io.PrintStream;
import java.util.List;
import java.util.Set;

/** `shardlight generate`: one completion from token ids (or text, with a tokenizer). */
final class GenerateCommand implements Subcommand {
    @Override
    public String name() {
        return "generate";
    }

    @Override
    public String summary() {
        return "generate --model PATH (--tokens IDS | --prompt TEXT) --max-tokens N [--temperature T --top-k K --top-p P"
                + " --min-p M --repetition-penalty R --presence-penalty P --frequency-penalty F --seed S --stop-tokens IDS"
                + " --threads N] [--json]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "tokens", "prompt", "max-tokens", "temperature", "top-k", "top-p", "min-p",
                "repetition-penalty", "presence-penalty", "frequency-penalty", "seed", "stop-tokens", "threads"), Set.of("json")).noPositional();
        String path = a.required("model");
        int[] tokens = a.ids("tokens");
        String prompt = a.get("prompt");
        if ((tokens == null) == (prompt == null)) {
            throw new Args.UsageException("give exactly one of --tokens or --prompt");
        }
        int maxTokens = a.getInt("max-tokens", 64);
        SamplingParams params;
        try {
            params = new SamplingParams(a.getFloat("temperature", 0f), a.getInt("top-k", 0), a.getFloat("top-p", 1f),
                    a.getFloat("min-p", 0f), a.getFloat("repetition-penalty", 1f), a.getFloat("presence-penalty", 0f),
                    a.getFloat("frequency-penalty", 0f), a.getLong("seed"));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
        try (LoadedModel m = LoadedModel.openWithText(path, a.getInt("threads", 0))) {
            TextCodec.Lookup lookup = m.text().join();
            TextCodec codec = lookup.codec();
            if (codec == null) {
                if (prompt != null) {
                    throw new IllegalStateException("--prompt needs the model's tokenizer, but " + lookup.missing()
                            + "; use --tokens");
                }
                err.println("shardlight generate: no text output: " + lookup.missing());
            } else if (prompt != null) {
                tokens = codec.encodeWithBos(prompt);
            }
            boolean json = a.flag("json");
            StringBuilder streamed = new StringBuilder();
            long[] firstToken = {0};
            Generation g = new Generator(m.forward()).generate(tokens, maxTokens, params, a.ids("stop-tokens"),
                    t -> {
                        if (firstToken[0] == 0) {
                            firstToken[0] = System.currentTimeMillis();
                        }
                        if (!json) {
                            out.print(codec != null ? codec.decodeIncrement(t) : t + " ");
                            out.flush();
                        }
                    }, null);
            String text = codec != null ? codec.decode(g.tokens()) : "";
            if (json) {
                out.println("{\"prompt_tokens\":" + Json.ids(g.promptTokens()) + ",\"tokens\":" + Json.ids(g.tokens())
                        + ",\"text\":" + Json.string(text) + ",\"finish_reason\":\"" + g.finishReason().name().toLowerCase()
                        + "\",\"prefill_tok_s\":" + Json.number(g.prefillTokensPerSecond())
                        + ",\"decode_tok_s\":" + Json.number(g.decodeTokensPerSecond())
                        + ",\"backend\":" + Json.string(m.forward().backend())
                        + ",\"load_ms\":" + m.loadNanos() / 1_000_000
                        + ",\"startup_to_first_token_ms\":" + sinceJvmStart(firstToken[0]) + "}");
            } else {
                out.println();
                err.printf("[%d prompt tokens, %d generated (%s); prefill %.1f tok/s, decode %.1f tok/s; %s]%n",
                        g.promptTokens().length, g.tokens().length, g.finishReason().name().toLowerCase(),
                        g.prefillTokensPerSecond(), g.decodeTokensPerSecond(), m.forward().backend());
            }
        }
        return 0;
    }

    /** Milliseconds from the JVM's start to {@code epochMillis} (the launcher script before it not counted); -1 if none. */
    private static long sinceJvmStart(long epochMillis) {
        return epochMillis == 0 ? -1 : epochMillis - java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
    }
}
