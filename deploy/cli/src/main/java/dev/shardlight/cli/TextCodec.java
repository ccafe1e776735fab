package dev.shardlight.cli;

import dev.shardlight.engine.model.Model;
import dev.shardlight.tokenizer.StreamDecoder;
import dev.shardlight.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Text ↔ ids for the CLI, from the tokenizer that comes with the model: the GGUF's
 * {@code tokenizer.ggml.*} metadata, or the tokenizer.json beside a Hugging Face checkpoint.
 */
final class TextCodec {
    private final Tokenizer tokenizer;
    private final StreamDecoder stream;

    private TextCodec(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.stream = tokenizer.newStreamDecoder(true);
    }

    /** The model's tokenizer, or why there is none (exactly one of the two is set). */
    record Lookup(TextCodec codec, String missing) {
    }

    static Lookup forModel(Model model) {
        Path p = model.path();
        try {
            if (Files.isDirectory(p)) {
                return Files.isRegularFile(p.resolve("tokenizer.json"))
                        ? new Lookup(new TextCodec(Tokenizer.fromHuggingFace(p)), null)
                        : new Lookup(null, "no tokenizer.json in " + p);
            }
            return model.ggufMetadata().containsKey("tokenizer.ggml.model")
                    ? new Lookup(new TextCodec(Tokenizer.fromGgufMetadata(model.ggufMetadata())), null)
                    : new Lookup(null, p + " has no tokenizer.ggml.* metadata");
        } catch (Exception | LinkageError e) {
            return new Lookup(null, "its tokenizer cannot be loaded: " + e.getMessage());
        }
    }

    /** Plain text as a tokenizer user writes it (special tokens recognised, like `tokenizers`), with BOS. */
    int[] encodeWithBos(String text) {
        return tokenizer.encode(text, true);
    }

    String decode(int[] ids) {
        return tokenizer.decode(ids, true);
    }

    /** Text made visible by one more streamed token (empty while a UTF-8 sequence is incomplete). */
    String decodeIncrement(int id) {
        return stream.next(id);
    }
}
