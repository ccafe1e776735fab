package dev.shardlight.tokenizer.server;

import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import dev.shardlight.tokenizer.Tokenizer;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A {@link TokenizerServer} in-process, serving the real Gemma 3 and Llama 3 tokenizers as
 * "gemma3" and "llama3", and a channel to it.
 */
final class TestServer implements AutoCloseable {
    final TokenizerServer server;
    final ManagedChannel channel;

    TestServer(RequestLimits limits) {
        this(Map.of("gemma3", gemma(), "llama3", llama()), limits);
    }

    TestServer(Map<String, Tokenizer> tokenizers, RequestLimits limits) {
        String name = InProcessServerBuilder.generateName();
        try {
            server = new TokenizerServer(InProcessServerBuilder.forName(name).directExecutor(), tokenizers, limits).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    }

    /** One server with the default limits for the test classes that only call it; it lives as long as the test JVM. */
    static TestServer shared() {
        return Shared.SERVER;
    }

    private static final class Shared {
        static final TestServer SERVER = new TestServer(RequestLimits.DEFAULT);
    }

    TokenizerServiceGrpc.TokenizerServiceBlockingStub stub() {
        return TokenizerServiceGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.stop(5);
    }

    /** The tokenizer files fetched by the tokenizer module's fetch-tokenizers.sh (Maven runs it before the tests). */
    static Path cacheDir() {
        Path dir = Path.of(System.getProperty("shardlight.tokenizers.dir",
                System.getProperty("user.home") + "/.cache/shardlight/tokenizers"));
        if (!Files.isRegularFile(dir.resolve("gemma3/tokenizer.json")) || !Files.isRegularFile(dir.resolve("llama3/tokenizer.json"))) {
            throw new IllegalStateException("tokenizer files missing under " + dir
                    + "; run tokenizer-service/tokenizer/src/test/scripts/fetch-tokenizers.sh (Maven runs it before the tests)");
        }
        return dir;
    }

    static Tokenizer gemma() {
        return Loaded.GEMMA;
    }

    static Tokenizer llama() {
        return Loaded.LLAMA;
    }

    static Tokenizer load(Path path) {
        try {
            return Tokenizer.fromHuggingFace(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loaded once per test JVM: Gemma's 262k vocabulary takes about a second. */
    private static final class Loaded {
        static final Tokenizer GEMMA = load(cacheDir().resolve("gemma3"));
        static final Tokenizer LLAMA = load(cacheDir().resolve("llama3"));
    }
}
