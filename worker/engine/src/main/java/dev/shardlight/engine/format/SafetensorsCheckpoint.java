package dev.shardlight.engine.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * The tensors of a Hugging Face checkpoint directory: {@code model.safetensors}, or the shards
 * listed in {@code model.safetensors.index.json}. Each file is memory-mapped; tensors are slices.
 * Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * then the data (offsets relative to the end of the header).
 */
public final class SafetensorsCheckpoint implements AutoCloseable {

    /** One tensor: its storage type (F32, F16 or BF16), shape as written, and bytes. */
    public record Tensor(String name, GgmlType type, long[] shape, MemorySegment data, Path file) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private SafetensorsCheckpoint(Path dir) {
        this.dir = dir;
    }

    public static SafetensorsCheckpoint open(Path dir) throws IOException {
        SafetensorsCheckpoint c = new SafetensorsCheckpoint(dir);
        try {
            Path single = dir.resolve("model.safetensors");
            Path index = dir.resolve("model.safetensors.index.json");
            if (Files.isRegularFile(index)) {
                JsonNode weightMap = JSON.readTree(index.toFile()).path("weight_map");
                if (!weightMap.isObject()) {
                    throw new ModelFormatException(index + " has no weight_map object");
                }
                TreeSet<String> shards = new TreeSet<>();
                weightMap.forEach(n -> shards.add(n.asText()));
                for (String shard : shards) {
                    Path p = dir.resolve(shard);
                    if (!Files.isRegularFile(p)) {
                        throw new ModelFormatException(index + " lists shard " + shard + ", which is missing");
                    }
                    c.mapFile(p);
                }
            } else if (Files.isRegularFile(single)) {
                c.mapFile(single);
            } else {
                throw new ModelFormatException(dir + " holds neither model.safetensors nor model.safetensors.index.json");
            }
            return c;
        } catch (RuntimeException | IOException e) {
            c.close();
            throw e;
        }
    }

    private void mapFile(Path file) throws IOException {
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
        if (seg.byteSize() < 8) {
            throw new ModelFormatException(file + " is too short to be a safetensors file");
        }
        long headerLen = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen <= 0 || 8 + headerLen > seg.byteSize() || headerLen > 100_000_000) {
            throw new ModelFormatException(file + ": header length " + headerLen + " does not fit the file");
        }
        String headerText = new String(seg.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        JsonNode header = JSON.readTree(headerText);
        long base = 8 + headerLen;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            String dtype = t.path("dtype").asText();
            GgmlType type = switch (dtype) {
                case "F32" -> GgmlType.F32;
                case "F16" -> GgmlType.F16;
                case "BF16" -> GgmlType.BF16;
                default -> throw new ModelFormatException(file + ": tensor " + e.getKey() + " has dtype " + dtype
                        + "; supported: F32, F16, BF16");
            };
            JsonNode shapeNode = t.path("shape");
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong();
            }
            long begin = t.path("data_offsets").path(0).asLong(-1);
            long end = t.path("data_offsets").path(1).asLong(-1);
            long elements = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            if (begin < 0 || end < begin || base + end > seg.byteSize() || end - begin != type.bytesFor(elements)) {
                throw new ModelFormatException(file + ": tensor " + e.getKey() + " (" + dtype + " " + Arrays.toString(shape)
                        + ") has data_offsets [" + begin + ", " + end + "] that do not match its shape or the file size");
            }
            tensors.put(e.getKey(), new Tensor(e.getKey(), type, shape, seg.asSlice(base + begin, end - begin), file));
        }
    }

    public Path dir() {
        return dir;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(dir + ": tensor " + name + " is missing from the checkpoint");
        }
        return t;
    }

    /** A 2-D tensor [rows, cols] as a weight matrix, read in place. */
    public WeightMatrix matrix(String name) {
        Tensor t = tensor(name);
        if (t.shape.length != 2) {
            throw new ModelFormatException(dir + ": tensor " + name + " should be 2-D but has shape " + Arrays.toString(t.shape));
        }
        return new WeightMatrix(name, t.type, Math.toIntExact(t.shape[0]), Math.toIntExact(t.shape[1]), t.data);
    }

    @Override
    public void close() {
        arena.close();
    }
}
