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
                + " --format gguf|hf --type Q8_0|Q4_0|Q4_K_M|BF16|F16|F32 --out PATH [--seed N]"
                + " [--size HIDDEN,INTERMEDIATE,LAYERS,HEADS,KV_HEADS,HEAD_DIM] [--tokenizer DIR [--chat-template FILE]]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("preset", "format", "type", "out", "seed", "size", "tokenizer", "chat-template"), Set.of()).noPositional();
        ModelShape shape;
        try {
            shape = ModelShape.preset(a.required("preset"));
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException(e.getMessage());
        }
        if (a.get("size") != null) {
            shape = resized(shape, a.get("size"));
        }
        if (a.get("tokenizer") != null && !a.required("format").equals("hf")) {
            throw new Args.UsageException("--tokenizer needs --format hf (the tokenizer files go beside config.json)");
        }
        if (a.get("chat-template") != null && a.get("tokenizer") == null) {
            throw new Args.UsageException("--chat-template needs --tokenizer DIR");
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
                if (a.get("tokenizer") != null) {
                    BundledTokenizer.copy(Path.of(a.get("tokenizer")), path, shape.vocabSize(),
                            a.get("chat-template") == null ? null : Path.of(a.get("chat-template")));
                }
            }
            default -> throw new Args.UsageException("--format must be gguf or hf");
        }
        out.printf(Locale.ROOT, "wrote %s (%s %s, random weights, seed %d%s) in %.1f s%n", path, shape.name(), type, seed,
                a.get("tokenizer") == null ? "" : ", tokenizer from " + a.get("tokenizer"), (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /**
     * The preset with smaller layers but its real vocabulary, special ids and everything else: a
     * checkpoint that serves the real tokenizer and chat template yet runs fast in tests.
     */
    private static ModelShape resized(ModelShape preset, String size) {
        String[] p = size.split(",");
        if (p.length != 6) {
            throw new Args.UsageException("--size takes HIDDEN,INTERMEDIATE,LAYERS,HEADS,KV_HEADS,HEAD_DIM, not " + size);
        }
        int[] v = new int[6];
        for (int i = 0; i < 6; i++) {
            try {
                v[i] = Integer.parseInt(p[i].trim());
            } catch (NumberFormatException e) {
                throw new Args.UsageException("--size: " + p[i] + " is not a whole number");
            }
        }
        try {
            return preset.resized(preset.name() + "-h" + v[0] + "-l" + v[2], v[0], v[1], v[2], v[3], v[4], v[5],
                    preset.vocabSize());
        } catch (IllegalArgumentException e) {
            throw new Args.UsageException("--size " + size + ": " + e.getMessage());
        }
    }
}
