package dev.shardlight.cli;

import dev.shardlight.engine.format.GgufFileType;
import dev.shardlight.engine.format.ModelShape;
import dev.shardlight.engine.format.RandomCheckpoint;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The model `shardlight serve` uses when given none: Gemma 3 270M with the real architecture and
 * random weights (Q8_0 GGUF, seed 42), written once under ~/.cache/shardlight/models (or
 * $SHARDLIGHT_CACHE). Its text is noise; it exists so a new user sees every step of the path work.
 */
final class RandomGemma {
    static final String ID = "gemma3-270m-random";

    private RandomGemma() {
    }

    static Path ensure(PrintStream err) throws IOException {
        String cache = System.getenv("SHARDLIGHT_CACHE");
        Path dir = cache != null ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache", "shardlight", "models");
        Path file = dir.resolve(ID + "-q8_0.gguf");
        if (Files.isRegularFile(file)) {
            return file;
        }
        Files.createDirectories(dir);
        err.println("shardlight: writing a random-weight Gemma 3 270M checkpoint to " + file + " (first use only)...");
        Path tmp = Files.createTempFile(dir, ID, ".part");
        try {
            RandomCheckpoint.writeGguf(tmp, ModelShape.GEMMA3_270M, GgufFileType.Q8_0, RandomCheckpoint.DEFAULT_SEED);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return file;
    }
}
