package dev.shardlight.cli;

import dev.shardlight.engine.runtime.KvCache;

import java.io.PrintStream;
import java.util.List;
import java.util.Set;

/** `shardlight logits`: raw float32 logits (before any sampling) at every input position. */
final class LogitsCommand implements Subcommand {
    @Override
    public String name() {
        return "logits";
    }

    @Override
    public String summary() {
        return "logits --model PATH --tokens 2,105,2364 [--top 10] [--threads N]  (one JSON line per position)";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "tokens", "top", "threads"), Set.of()).noPositional();
        String path = a.required("model");
        int[] tokens = a.ids("tokens");
        if (tokens == null || tokens.length == 0) {
            throw new Args.UsageException("--tokens is required (comma-separated ids)");
        }
        int top = a.getInt("top", 10);
        if (top < 1) {
            throw new Args.UsageException("--top must be >= 1");
        }
        try (LoadedModel m = LoadedModel.open(path, a.getInt("threads", 0))) {
            int vocab = m.forward().config().vocab();
            KvCache cache = m.forward().newCache(Math.min(m.forward().config().contextLength(), tokens.length));
            float[] logits = new float[tokens.length * vocab];
            m.forward().forward(cache, tokens, 0, tokens.length, logits, true);
            StringBuilder sb = new StringBuilder();
            for (int pos = 0; pos < tokens.length; pos++) {
                int[] best = TopK.indices(logits, pos * vocab, vocab, Math.min(top, vocab));
                sb.setLength(0);
                sb.append("{\"pos\":").append(pos).append(",\"top\":[");
                for (int i = 0; i < best.length; i++) {
                    sb.append(i == 0 ? "[" : ",[").append(best[i]).append(',')
                            .append(Json.number(logits[pos * vocab + best[i]])).append(']');
                }
                out.println(sb.append("]}"));
            }
        }
        return 0;
    }
}
