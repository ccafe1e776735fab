package dev.shardlight.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Command-line options of `serve` and `node`, turned into the node's HOCON configuration:
 * options override a {@code --config FILE}, which overrides the built-in defaults. Models are
 * repeatable {@code --model [ID=]PATH} options (ID defaults to the file or directory name).
 */
final class ClusterOptions {
    static final Set<String> VALUED = Set.of("config", "host", "port", "grpc-port", "http-port", "tokenizer-port", "metrics-port", "seed-nodes", "roles",
            "memory-mb", "replicas", "context-length", "kv-budget-mb", "queue-capacity", "threads", "max-batch", "step-tokens");

    record Parsed(Args args, List<String> models) {
    }

    /** Pulls out every {@code --model X}, since {@link Args} keeps one value per option. */
    static Parsed parse(List<String> argv, Set<String> extraValued, Set<String> booleans) {
        List<String> models = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            if (a.equals("--model")) {
                if (i + 1 >= argv.size()) {
                    throw new Args.UsageException("--model needs a value");
                }
                models.add(argv.get(++i));
            } else if (a.startsWith("--model=")) {
                models.add(a.substring("--model=".length()));
            } else {
                rest.add(a);
            }
        }
        Set<String> valued = new java.util.HashSet<>(VALUED);
        valued.addAll(extraValued);
        return new Parsed(new Args(rest, valued, booleans), models);
    }

    /** The configuration a node starts from; {@code defaults} sits under the command-line options. */
    static Config config(Parsed p, Map<String, Object> defaults) {
        Args a = p.args();
        Map<String, Object> o = new LinkedHashMap<>(defaults);
        put(o, "shardlight.host", a.get("host"));
        putInt(o, a, "port", "shardlight.cluster-port");
        putInt(o, a, "grpc-port", "shardlight.gateway.port");
        putInt(o, a, "metrics-port", "shardlight.metrics.port");
        putInt(o, a, "http-port", "shardlight.http.port"); // OpenAI-compatible HTTP; 0 = off
        putInt(o, a, "tokenizer-port", "shardlight.tokenizer.port"); // role tokenizer
        putInt(o, a, "memory-mb", "shardlight.worker.memory-mb");
        if (a.get("roles") != null) {
            o.put("shardlight.roles", List.of(a.get("roles").split("[,|]")));
        }
        if (a.get("seed-nodes") != null) {
            o.put("shardlight.seed-nodes", a.get("seed-nodes").isBlank() ? List.of() : List.of(a.get("seed-nodes").split(",")));
        }
        if (a.get("threads") != null) {
            System.setProperty("shardlight.threads", String.valueOf(a.getInt("threads", 0)));
        }
        if (!p.models().isEmpty()) {
            List<Map<String, Object>> models = new ArrayList<>();
            for (String m : p.models()) {
                models.add(model(m, a));
            }
            o.put("shardlight.models", models);
        }
        Config cli = ConfigFactory.parseMap(o, "command line");
        if (a.get("config") != null) {
            Path file = Path.of(a.get("config"));
            if (!Files.isRegularFile(file)) {
                throw new Args.UsageException("--config " + file + ": no such file");
            }
            cli = cli.withFallback(ConfigFactory.parseFile(file.toFile()));
        }
        return cli;
    }

    static Map<String, Object> model(String spec, Args a) {
        int eq = spec.indexOf('=');
        String path = eq >= 0 ? spec.substring(eq + 1) : spec;
        String id = eq >= 0 ? spec.substring(0, eq) : defaultId(path);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("path", Path.of(path).toAbsolutePath().toString());
        m.put("replicas", a.getInt("replicas", 1));
        m.put("context-length", a.getInt("context-length", 4096));
        m.put("kv-budget-mb", a.getInt("kv-budget-mb", 256));
        m.put("queue-capacity", a.getInt("queue-capacity", 8));
        m.put("max-batch", a.getInt("max-batch", dev.shardlight.worker.ModelSpec.Batching.DEFAULT.maxBatch()));
        m.put("step-tokens", a.getInt("step-tokens", dev.shardlight.worker.ModelSpec.Batching.DEFAULT.stepTokens()));
        return m;
    }

    /** "models/gemma-3-1b-it-Q8_0.gguf" → "gemma-3-1b-it-Q8_0". */
    static String defaultId(String path) {
        String name = Path.of(path).getFileName().toString();
        if (name.endsWith(".gguf")) {
            name = name.substring(0, name.length() - 5);
        }
        return name.replace('#', '-');
    }

    private static void put(Map<String, Object> o, String key, Object v) {
        if (v != null) {
            o.put(key, v);
        }
    }

    private static void putInt(Map<String, Object> o, Args a, String option, String key) {
        if (a.get(option) != null) {
            o.put(key, a.getInt(option, 0));
        }
    }
}
