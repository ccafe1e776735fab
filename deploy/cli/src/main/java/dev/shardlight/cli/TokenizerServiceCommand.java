package dev.shardlight.cli;

import dev.shardlight.tokenizer.Tokenizer;
import dev.shardlight.tokenizer.server.RequestLimits;
import dev.shardlight.tokenizer.server.TokenizerServer;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * `shardlight tokenizer-service --tokenizer ID=PATH [--tokenizer ID=PATH]... [--port 50052]`:
 * serves shardlight.v1.TokenizerService (with health and reflection) for the given tokenizers
 * until killed. PATH is what `shardlight tokenize` takes: a tokenizer.json, a directory holding
 * one, or a GGUF file.
 */
final class TokenizerServiceCommand implements Subcommand {
    static final int DEFAULT_PORT = 50052;
    /** In-flight calls are short (one encode or render); this is ample to let them finish. */
    private static final long STOP_GRACE_SECONDS = 10;

    @Override
    public String name() {
        return "tokenizer-service";
    }

    @Override
    public String summary() {
        return "tokenizer-service --tokenizer ID=PATH [--tokenizer ID=PATH]... [--port " + DEFAULT_PORT + "]"
                + " [--max-text-bytes N] [--max-ids N]: the gRPC tokenizer service; PATH = tokenizer.json, its directory, or .gguf";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        // --tokenizer repeats; Args keeps one value per option, so those are taken out first
        List<String> rest = new ArrayList<>();
        Map<String, Tokenizer> tokenizers = new LinkedHashMap<>();
        for (int i = 0; i < argv.size(); i++) {
            String a = argv.get(i);
            String spec;
            if (a.startsWith("--tokenizer=")) {
                spec = a.substring("--tokenizer=".length());
            } else if (a.equals("--tokenizer")) {
                if (i + 1 >= argv.size()) {
                    throw new Args.UsageException("--tokenizer needs a value ID=PATH");
                }
                spec = argv.get(++i);
            } else {
                rest.add(a);
                continue;
            }
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new Args.UsageException("--tokenizer expects ID=PATH (e.g. gemma3=models/gemma3), got \"" + spec + "\"");
            }
            String id = spec.substring(0, eq);
            if (tokenizers.containsKey(id)) {
                throw new Args.UsageException("--tokenizer " + id + " is given twice");
            }
            tokenizers.put(id, TokenizeCommand.open(spec.substring(eq + 1)));
        }
        Args args = new Args(rest, Set.of("port", "max-text-bytes", "max-ids"), Set.of());
        if (!args.positional().isEmpty()) {
            throw new Args.UsageException("unexpected argument " + args.positional().getFirst());
        }
        if (tokenizers.isEmpty()) {
            throw new Args.UsageException("give at least one --tokenizer ID=PATH");
        }
        int port = args.getInt("port", DEFAULT_PORT);
        RequestLimits limits = new RequestLimits(args.getInt("max-text-bytes", RequestLimits.DEFAULT.maxTextBytes()),
                args.getInt("max-ids", RequestLimits.DEFAULT.maxIds()));

        TokenizerServer server = new TokenizerServer(
                Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create()), tokenizers, limits).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.stop(STOP_GRACE_SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                stopped.countDown();
            }
        }, "shardlight-tokenizer-shutdown"));
        out.println("shardlight: tokenizer service for " + String.join(", ", tokenizers.keySet()) + " on port " + server.port()
                + " (gRPC, reflection on); try: grpcurl -plaintext -d '{\"model\":\"" + tokenizers.keySet().iterator().next()
                + "\",\"text\":\"Hello\"}' localhost:" + server.port() + " shardlight.v1.TokenizerService/Encode");
        out.flush();
        stopped.await();
        return 0;
    }
}
