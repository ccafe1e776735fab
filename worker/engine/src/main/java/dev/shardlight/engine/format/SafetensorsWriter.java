package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a Hugging Face checkpoint's weights as safetensors: u64 little-endian header length N,
 * N bytes of JSON ({@code "__metadata__": {"format": "pt"}} first, then {@code name: {dtype,
 * shape, data_offsets}} in data order) padded with spaces to a multiple of 8, then the raw data.
 *
 * <p>Like {@code save_pretrained}: tensors go to shards in declaration order (a new shard starts
 * when the next tensor would take the current one past the shard limit, 5 GB by default); one
 * shard is {@code model.safetensors}, several are {@code model-00001-of-0000N.safetensors} plus
 * {@code model.safetensors.index.json}. Within a file, tensors are ordered as the safetensors
 * library stores them: by dtype (F32, BF16, F16) then by name.
 */
public final class SafetensorsWriter {

    /** transformers' default {@code max_shard_size="5GB"} (decimal). */
    public static final long HF_SHARD_BYTES = 5_000_000_000L;
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private record Tensor(String name, GgmlType dtype, long[] shape, TensorData data) {
        long rowLength() {
            return shape.length == 0 ? 1 : shape[shape.length - 1];
        }

        long rows() {
            long r = 1;
            for (int i = 0; i < shape.length - 1; i++) {
                r *= shape[i];
            }
            return r;
        }

        long bytes() {
            return rows() * dtype.bytesFor(rowLength());
        }
    }

    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final long maxShardBytes;

    public SafetensorsWriter() {
        this(HF_SHARD_BYTES);
    }

    public SafetensorsWriter(long maxShardBytes) {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("shard limit must be positive");
        }
        this.maxShardBytes = maxShardBytes;
    }

    /** Declares a tensor of PyTorch shape {@code shape} (rows are its last dimension), dtype F32, F16 or BF16. */
    public SafetensorsWriter add(String name, GgmlType dtype, long[] shape, TensorData data) {
        if (dtype != GgmlType.F32 && dtype != GgmlType.F16 && dtype != GgmlType.BF16) {
            throw new IllegalArgumentException("tensor " + name + ": safetensors dtype must be F32, F16 or BF16, not " + dtype);
        }
        if (Arrays.stream(shape).anyMatch(d -> d < 0)) {
            throw new IllegalArgumentException("tensor " + name + " has shape " + Arrays.toString(shape));
        }
        if (tensors.putIfAbsent(name, new Tensor(name, dtype, shape.clone(), data)) != null) {
            throw new IllegalArgumentException("tensor " + name + " was already added");
        }
        return this;
    }

    public List<Path> write(Path dir) throws IOException {
        return write(dir, TensorStreamer.defaultThreads());
    }

    /** Writes the shards (and the index when there are several) into {@code dir}; returns the files written. */
    public List<Path> write(Path dir, int threads) throws IOException {
        Files.createDirectories(dir);
        List<List<Tensor>> shards = plan();
        List<Path> written = new ArrayList<>();
        if (shards.size() == 1) {
            Path file = dir.resolve(SINGLE_FILE);
            writeFile(file, shards.getFirst(), threads);
            written.add(file);
            return written;
        }
        Map<String, Object> weightMap = new TreeMap<>();
        long totalSize = 0;
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            writeFile(dir.resolve(name), shards.get(i), threads);
            written.add(dir.resolve(name));
            for (Tensor t : shards.get(i)) {
                weightMap.put(t.name, name);
                totalSize += t.bytes();
            }
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", totalSize));
        index.put("weight_map", weightMap);
        Path indexFile = dir.resolve(INDEX_FILE);
        Files.writeString(indexFile, PythonJson.pretty(index) + "\n");
        written.add(indexFile);
        return written;
    }

    /** The names that {@link #write} puts in each file, in declaration order (for tests and logs). */
    public List<Set<String>> plannedShards() {
        List<Set<String>> out = new ArrayList<>();
        for (List<Tensor> shard : plan()) {
            Set<String> names = new LinkedHashSet<>();
            shard.forEach(t -> names.add(t.name));
            out.add(names);
        }
        return out;
    }

    private List<List<Tensor>> plan() {
        List<List<Tensor>> shards = new ArrayList<>();
        long current = 0;
        for (Tensor t : tensors.values()) {
            if (shards.isEmpty() || (current + t.bytes() > maxShardBytes && current > 0)) {
                shards.add(new ArrayList<>());
                current = 0;
            }
            shards.getLast().add(t);
            current += t.bytes();
        }
        if (shards.isEmpty()) {
            shards.add(List.of());
        }
        return shards;
    }

    private static void writeFile(Path file, List<Tensor> shard, int threads) throws IOException {
        // safetensors (Rust) sorts by dtype, larger enum value first (F32 > BF16 > F16), then name.
        List<Tensor> ordered = new ArrayList<>(shard);
        ordered.sort(Comparator.comparingInt((Tensor t) -> dtypeRank(t.dtype)).thenComparing(Tensor::name));
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long offset = 0;
        for (Tensor t : ordered) {
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype.name());
            info.put("shape", Arrays.stream(t.shape).boxed().toList());
            info.put("data_offsets", List.of(offset, offset + t.bytes()));
            header.put(t.name, info);
            offset += t.bytes();
        }
        byte[] json = PythonJson.compact(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        long dataStart = 8L + padded;
        List<TensorStreamer.Region> regions = new ArrayList<>();
        long at = dataStart;
        for (Tensor t : ordered) {
            regions.add(new TensorStreamer.Region(t.name, at, t.rows(), t.dtype.bytesFor(t.rowLength()), t.data));
            at += t.bytes();
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long pos = 0;
            while (head.hasRemaining()) {
                pos += ch.write(head, pos);
            }
            TensorStreamer.write(ch, regions.stream().filter(r -> r.rows() > 0 && r.rowBytes() > 0).toList(), threads);
        }
    }

    private static int dtypeRank(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case BF16 -> 1;
            default -> 2;
        };
    }
}
