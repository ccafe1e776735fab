package dev.shardlight.cli;

import dev.shardlight.engine.format.GgufFileType;
import dev.shardlight.engine.format.ModelShape;
import dev.shardlight.engine.format.RandomCheckpoint;
import dev.shardlight.engine.tensor.GgmlType;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** `shardlight random-model`: a random-weight checkpoint with a real model's shapes. */
final class RandomModelCommand implements Subcommand {
    @Override
    public String name() {
        return "random-model";
    }

    @Override
    public String summary() {
        return "random-model --preset " + String.join("|", ModelShape.presetNames())
                + " --format gguf|hf --type Q8_0|Q4_0|Q4_K_M|BF16|F16|F32 --out PATH [--seed N]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("preset", "format", "type", "out", "seed"), Set.of()).noPositional();
        ModelShape shape;
        try {
            shape = ModelShape.preset(a.required("preset"));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
        String type = a.required("type").toUpperCase(Locale.ROOT);
        Path path = Path.of(a.required("out"));
        long seed = a.getLong("seed") == null ? RandomCheckpoint.DEFAULT_SEED : a.getLong("seed");
        long t0 = System.nanoTime();
        switch (a.required("format")) {
            case "gguf" -> {
                GgufFileType ft;
                try {
                    ft = GgufFileType.parse(type);
                } catch (IllegalArgumentException e) {
                    throw new Args.UsageException(e.getMessage());
                }
                if (path.toAbsolutePath().getParent() != null) {
                    Files.createDirectories(path.toAbsolutePath().getParent());
                }
                RandomCheckpoint.writeGguf(path, shape, ft, seed);
            }
            case "hf" -> {
                GgmlType dtype = switch (type) {
                    case "BF16" -> GgmlType.BF16;
                    case "F16" -> GgmlType.F16;
                    case "F32" -> GgmlType.F32;
                    default -> throw new Args.UsageException("--format hf takes --type BF16, F16 or F32");
                };
                RandomCheckpoint.writeHuggingFace(path, shape, dtype, seed);
            }
            default -> throw new Args.UsageException("--format must be gguf or hf");
        }
        out.printf(Locale.ROOT, "wrote %s (%s %s, random weights, seed %d) in %.1f s%n", path, shape.name(), type, seed,
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
