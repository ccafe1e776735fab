package dev.shardlight.engine.model;

import dev.shardlight.engine.format.GgufFile;
import dev.shardlight.engine.format.ModelFormatException;
import dev.shardlight.engine.format.SafetensorsCheckpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A loaded model: its configuration and weights, backed by memory-mapped files that stay open
 * until {@link #close()}. {@link #load(Path)} takes a {@code .gguf} file or a Hugging Face
 * checkpoint directory (config.json + safetensors).
 */
public final class Model implements AutoCloseable {
    private final ModelConfig config;
    private final ModelWeights weights;
    private final AutoCloseable files;
    private final Path path;
    private final java.util.Map<String, Object> ggufMetadata;

    Model(Path path, ModelConfig config, ModelWeights weights, AutoCloseable files, java.util.Map<String, Object> ggufMetadata) {
        this.path = path;
        this.config = config;
        this.weights = weights;
        this.files = files;
        this.ggufMetadata = ggufMetadata;
    }

    public static Model load(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            if (!Files.isRegularFile(path.resolve("config.json"))) {
                throw new ModelFormatException(path + " is a directory without config.json; expected a Hugging Face checkpoint");
            }
            SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(path);
            try {
                return HuggingFaceModelReader.read(path, ckpt);
            } catch (RuntimeException | IOException e) {
                ckpt.close();
                throw e;
            }
        }
        if (!Files.isRegularFile(path)) {
            throw new java.nio.file.NoSuchFileException(path.toString(), null, "no such model file or directory");
        }
        GgufFile gguf = GgufFile.open(path);
        try {
            return GgufModelReader.read(gguf);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    /** GGUF metadata (tokenizer keys included) when loaded from a GGUF file, else an empty map. */
    public java.util.Map<String, Object> ggufMetadata() {
        return ggufMetadata;
    }

    @Override
    public void close() throws Exception {
        files.close();
    }
}
