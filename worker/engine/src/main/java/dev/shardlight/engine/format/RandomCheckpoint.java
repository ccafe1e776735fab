package dev.shardlight.engine.format;

import dev.shardlight.engine.model.Architecture;
import dev.shardlight.engine.tensor.GgmlType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Random-weight checkpoints with the real shapes, metadata and tensor names of Gemma 3 and
 * Llama 3.2 ({@link ModelShape} presets), in both formats the engine serves:
 * <ul>
 *   <li>{@link #writeGguf}: as llama.cpp's convert_hf_to_gguf.py (+ llama-quantize) writes it:
 *       gemma3 / llama keys, blk.N tensor names, F32 norms (Gemma's +1 baked in), Llama's
 *       permuted Q/K and rope_freqs, token_embd trimmed to the vocabulary, a synthetic tokenizer
 *       section ({@link SyntheticVocabulary});</li>
 *   <li>{@link #writeHuggingFace}: config.json as published ({@link HuggingFaceConfig}) plus
 *       safetensors, sharded above 5 GB like save_pretrained.</li>
 * </ul>
 * The same seed gives the same model in both ({@link RandomWeights}). Writing is streamed and
 * parallel, so even the 12B preset needs no more memory than a few buffers.
 *
 * <p>Command line: {@code RandomCheckpoint --preset gemma3-1b --format gguf|hf --type Q8_0|BF16|...
 * --out PATH [--seed N] [--threads N]} (gguf: --out is the file; hf: the directory).
 */
public final class RandomCheckpoint {

    public static final long DEFAULT_SEED = 42;

    private RandomCheckpoint() {
    }

    /** A GGUF whose 2-D weights are all {@code weightType} (F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K). */
    public static void writeGguf(Path file, ModelShape shape, GgmlType weightType, long seed) throws IOException {
        writeGguf(file, shape, GgufFileType.valueOf(weightType.name()), seed, TensorStreamer.defaultThreads());
    }

    public static void writeGguf(Path file, ModelShape shape, GgufFileType fileType, long seed) throws IOException {
        writeGguf(file, shape, fileType, seed, TensorStreamer.defaultThreads());
    }

    public static void writeGguf(Path file, ModelShape shape, GgufFileType fileType, long seed, int threads)
            throws IOException {
        RandomWeights weights = RandomWeights.of(shape, seed);
        boolean gemma = shape.architecture() == Architecture.GEMMA3;
        String arch = gemma ? "gemma3" : "llama";
        String p = arch + ".";
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", arch);
        w.putString("general.name", shape.name() + " random seed " + seed);
        w.putUint32("general.alignment", 32);
        w.putUint32("general.file_type", fileType.id);
        w.putUint32("general.quantization_version", 2);
        w.putUint32(p + "context_length", shape.contextLength());
        w.putUint32(p + "embedding_length", shape.hiddenSize());
        w.putUint32(p + "block_count", shape.layers());
        w.putUint32(p + "feed_forward_length", shape.intermediateSize());
        w.putUint32(p + "attention.head_count", shape.heads());
        w.putUint32(p + "attention.head_count_kv", shape.kvHeads());
        w.putUint32(p + "attention.key_length", shape.headDim());
        w.putUint32(p + "attention.value_length", shape.headDim());
        w.putFloat32(p + "attention.layer_norm_rms_epsilon", (float) shape.rmsNormEps());
        w.putFloat32(p + "rope.freq_base", (float) shape.ropeTheta());
        w.putUint32(p + "vocab_size", shape.vocabSize());
        if (gemma) {
            w.putUint32(p + "attention.sliding_window", shape.slidingWindow());
            if (shape.linearRopeFactor() != 1.0) {
                // Only the global layers use it; llama.cpp hard-codes the local base 10000 and scale 1.
                w.putString(p + "rope.scaling.type", "linear");
                w.putFloat32(p + "rope.scaling.factor", (float) shape.linearRopeFactor());
            }
        } else {
            w.putUint32(p + "rope.dimension_count", shape.headDim());
        }
        SyntheticVocabulary.put(w, shape);

        if (shape.llama3Rope() != null) {
            float[] divisors = llama3RopeDivisors(shape);
            w.addTensor("rope_freqs.weight", GgmlType.F32, new long[] {divisors.length},
                    TensorData.encoded(GgmlType.F32, divisors.length, (r, dst) -> System.arraycopy(divisors, 0, dst, 0, dst.length)));
        }
        for (RandomWeights.Tensor t : weights.tensors()) {
            boolean vector = t.kind() == RandomWeights.Kind.NORM;
            GgmlType type = vector ? GgmlType.F32 : fileType.typeFor(t.ggufName(), t.cols(), t.layer(), shape.layers());
            long[] dims = vector ? new long[] {t.cols()} : new long[] {t.cols(), t.ggufRows()};
            w.addTensor(t.ggufName(), type, dims, TensorData.encoded(type, t.cols(), (r, dst) -> weights.ggufRow(t, r, dst)));
        }
        w.write(file, threads);
    }

    /**
     * llama.cpp LlamaModel.generate_extra_tensors: per-frequency divisors of the llama3 rope
     * scaling, computed in float32 as its torch code does (1 above the high-frequency band,
     * factor below the low-frequency one, 1/((1-smooth)/factor + smooth) between).
     */
    static float[] llama3RopeDivisors(ModelShape shape) {
        ModelShape.Llama3Rope r = shape.llama3Rope();
        int dim = shape.headDim();
        float base = (float) shape.ropeTheta();
        float lowFreqWavelen = (float) r.originalContextLength() / (float) r.lowFreqFactor();
        float highFreqWavelen = (float) r.originalContextLength() / (float) r.highFreqFactor();
        float[] divisors = new float[dim / 2];
        for (int i = 0; i < divisors.length; i++) {
            float freq = 1.0f / (float) Math.pow(base, (float) (2 * i) / dim);
            float wavelen = (float) (2 * Math.PI) / freq;
            if (wavelen < highFreqWavelen) {
                divisors[i] = 1f;
            } else if (wavelen > lowFreqWavelen) {
                divisors[i] = (float) r.factor();
            } else {
                float smooth = ((float) r.originalContextLength() / wavelen - (float) r.lowFreqFactor())
                        / (float) (r.highFreqFactor() - r.lowFreqFactor());
                divisors[i] = 1 / ((1 - smooth) / (float) r.factor() + smooth);
            }
        }
        return divisors;
    }

    /** config.json plus safetensors (F32, F16 or BF16) in {@code dir}; returns the files written. */
    public static List<Path> writeHuggingFace(Path dir, ModelShape shape, GgmlType dtype, long seed) throws IOException {
        return writeHuggingFace(dir, shape, dtype, seed, SafetensorsWriter.HF_SHARD_BYTES, TensorStreamer.defaultThreads());
    }

    public static List<Path> writeHuggingFace(Path dir, ModelShape shape, GgmlType dtype, long seed, long maxShardBytes,
                                              int threads) throws IOException {
        RandomWeights weights = RandomWeights.of(shape, seed);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), PythonJson.pretty(HuggingFaceConfig.of(shape, dtype)) + "\n");
        SafetensorsWriter st = new SafetensorsWriter(maxShardBytes);
        for (RandomWeights.Tensor t : weights.tensors()) {
            long[] torchShape = t.kind() == RandomWeights.Kind.NORM ? new long[] {t.cols()} : new long[] {t.rows(), t.cols()};
            st.add(t.hfName(), dtype, torchShape, TensorData.encoded(dtype, t.cols(), (r, dst) -> weights.hfRow(t, r, dst)));
        }
        List<Path> files = new java.util.ArrayList<>(st.write(dir, threads));
        files.addFirst(dir.resolve("config.json"));
        return files;
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                usage("bad argument " + args[i]);
            }
            opts.put(args[i].substring(2), args[++i]);
        }
        for (String required : List.of("preset", "format", "type", "out")) {
            if (!opts.containsKey(required)) {
                usage("--" + required + " is required");
            }
        }
        ModelShape shape = ModelShape.preset(opts.get("preset"));
        long seed = Long.parseLong(opts.getOrDefault("seed", Long.toString(DEFAULT_SEED)));
        int threads = Integer.parseInt(opts.getOrDefault("threads", Integer.toString(TensorStreamer.defaultThreads())));
        Path out = Path.of(opts.get("out"));
        String type = opts.get("type").toUpperCase(Locale.ROOT);
        long start = System.nanoTime();
        List<Path> files;
        switch (opts.get("format")) {
            case "gguf" -> {
                if (out.getParent() != null) {
                    Files.createDirectories(out.getParent());
                }
                writeGguf(out, shape, GgufFileType.parse(type), seed, threads);
                files = List.of(out);
            }
            case "hf" -> files = writeHuggingFace(out, shape, GgmlType.valueOf(type), seed,
                    SafetensorsWriter.HF_SHARD_BYTES, threads);
            default -> throw new IllegalArgumentException("--format must be gguf or hf, not " + opts.get("format"));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long bytes = 0;
        for (Path f : files) {
            bytes += Files.size(f);
        }
        System.out.printf(Locale.ROOT, "%s %s %s seed %d: %d file(s), %.3f GB in %.1f s (%.0f MB/s) -> %s%n",
                shape.name(), opts.get("format"), type, seed, files.size(), bytes / 1e9, seconds, bytes / 1e6 / seconds, out);
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: RandomCheckpoint --preset " + String.join("|", ModelShape.presetNames())
                + " --format gguf|hf --type " + java.util.Arrays.toString(GgufFileType.values())
                + " (hf: F32|F16|BF16) --out PATH [--seed N] [--threads N]");
        System.exit(2);
    }
}
