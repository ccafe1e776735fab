package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file (ggml/docs/gguf.md): header, metadata, tensor infos, then tensor data,
 * each tensor at an offset that is a multiple of {@code general.alignment} (32 unless put
 * otherwise) and zero-padded to it, as ggml's gguf writer does. Tensor bytes come from
 * {@link TensorData} and are streamed to disk in parallel, so a model of any size is written
 * without holding it in memory.
 *
 * <p>Metadata keys keep their insertion order; {@code general.alignment} is added last (u32 32)
 * when it was not put.
 */
public final class GgufWriter {

    /** GGUF metadata value types with their on-disk ids. */
    public enum ValueType {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8),
        ARRAY(9), UINT64(10), INT64(11), FLOAT64(12);

        public final int id;

        ValueType(int id) {
            this.id = id;
        }
    }

    /**
     * An array value: elements are Numbers, Booleans, Strings or nested Arrays, as elementType says.
     * float[] / int[] / long[] are accepted as elements for FLOAT32 / INT32,UINT32 / INT64,UINT64.
     */
    public record Array(ValueType elementType, Object elements) {
        int size() {
            return switch (elements) {
                case float[] a -> a.length;
                case int[] a -> a.length;
                case long[] a -> a.length;
                case List<?> l -> l.size();
                default -> throw new IllegalArgumentException("array elements must be a List, float[], int[] or long[]");
            };
        }
    }

    private record Value(ValueType type, Object value) {
    }

    private record Tensor(String name, GgmlType type, long[] dims, TensorData data) {
        long rowLength() {
            return dims[0];
        }

        long rows() {
            long r = 1;
            for (int i = 1; i < dims.length; i++) {
                r *= dims[i];
            }
            return r;
        }

        long bytes() {
            return rows() * type.bytesFor(rowLength());
        }
    }

    private static final int MAGIC = 0x46554747;
    private static final int VERSION = 3;
    private static final String ALIGNMENT_KEY = "general.alignment";

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    /** Puts one metadata value, replacing an earlier one of the same key (which keeps its place). */
    public GgufWriter put(String key, ValueType type, Object value) {
        check(type, value, key);
        metadata.put(key, new Value(type, value));
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, ValueType.STRING, value);
    }

    public GgufWriter putUint32(String key, long value) {
        return put(key, ValueType.UINT32, value);
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, ValueType.INT32, value);
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, ValueType.FLOAT32, value);
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, ValueType.BOOL, value);
    }

    public GgufWriter putStrings(String key, List<String> values) {
        return put(key, ValueType.ARRAY, new Array(ValueType.STRING, values));
    }

    public GgufWriter putFloat32s(String key, float[] values) {
        return put(key, ValueType.ARRAY, new Array(ValueType.FLOAT32, values));
    }

    public GgufWriter putInt32s(String key, int[] values) {
        return put(key, ValueType.ARRAY, new Array(ValueType.INT32, values));
    }

    /**
     * Declares a tensor: {@code dims} in GGUF order (dims[0] is the row length, ne[0]), rows
     * encoded as {@code type} by {@code data}. Tensors are written in declaration order.
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] dims, TensorData data) {
        if (name.getBytes(StandardCharsets.UTF_8).length >= 64) {
            throw new IllegalArgumentException("tensor name " + name + " is 64 bytes or longer (ggml's GGML_MAX_NAME)");
        }
        if (dims.length < 1 || dims.length > 4 || Arrays.stream(dims).anyMatch(d -> d <= 0)) {
            throw new IllegalArgumentException("tensor " + name + " has dims " + Arrays.toString(dims) + "; 1 to 4 positive dims");
        }
        if (dims[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + name + ": row length " + dims[0] + " is not a multiple of "
                    + type + "'s block size " + type.blockSize);
        }
        if (tensors.putIfAbsent(name, new Tensor(name, type, dims.clone(), data)) != null) {
            throw new IllegalArgumentException("tensor " + name + " was already added");
        }
        return this;
    }

    public void write(Path file) throws IOException {
        write(file, TensorStreamer.defaultThreads());
    }

    /** Writes the file, replacing any file at {@code file}, encoding tensors on {@code threads} threads. */
    public void write(Path file, int threads) throws IOException {
        if (!metadata.containsKey(ALIGNMENT_KEY)) {
            putUint32(ALIGNMENT_KEY, 32);
        }
        long alignment = ((Number) metadata.get(ALIGNMENT_KEY).value).longValue();
        if (alignment <= 0 || alignment % 8 != 0) {
            throw new IllegalArgumentException(ALIGNMENT_KEY + " must be a positive multiple of 8, not " + alignment);
        }
        Encoder header = new Encoder();
        header.i32(MAGIC).i32(VERSION).i64(tensors.size()).i64(metadata.size());
        for (Map.Entry<String, Value> e : metadata.entrySet()) {
            header.string(e.getKey()).i32(e.getValue().type.id);
            header.value(e.getValue().type, e.getValue().value);
        }
        List<TensorStreamer.Region> regions = new ArrayList<>();
        long offset = 0;
        for (Tensor t : tensors.values()) {
            header.string(t.name).i32(t.dims.length);
            for (long d : t.dims) {
                header.i64(d);
            }
            header.i32(t.type.id).i64(offset);
            regions.add(new TensorStreamer.Region(t.name, offset, t.rows(), t.type.bytesFor(t.rowLength()), t.data));
            offset = align(offset + t.bytes(), alignment);
        }
        long dataStart = align(header.size(), alignment);
        byte[] head = Arrays.copyOf(header.toByteArray(), Math.toIntExact(dataStart));
        List<TensorStreamer.Region> placed = regions.stream()
                .map(r -> new TensorStreamer.Region(r.name(), dataStart + r.fileOffset(), r.rows(), r.rowBytes(), r.data()))
                .toList();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, ByteBuffer.wrap(head), 0);
            // The padding after each tensor, the last one included, is zeros; writing the final
            // byte also gives the file its full length.
            if (dataStart + offset > dataStart) {
                writeFully(ch, ByteBuffer.wrap(new byte[1]), dataStart + offset - 1);
            }
            TensorStreamer.write(ch, placed, threads);
        }
    }

    private static long align(long n, long alignment) {
        return (n + alignment - 1) / alignment * alignment;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    private static void check(ValueType type, Object value, String key) {
        boolean ok = switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 ->
                    value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte;
            case FLOAT32, FLOAT64 -> value instanceof Number;
            case BOOL -> value instanceof Boolean;
            case STRING -> value instanceof String;
            case ARRAY -> value instanceof Array a && checkElements(a, key);
        };
        if (!ok) {
            throw new IllegalArgumentException("metadata " + key + ": " + (value == null ? "null" : value.getClass().getSimpleName())
                    + " is not a " + type + " value");
        }
    }

    private static boolean checkElements(Array a, String key) {
        a.size();
        if (a.elements instanceof List<?> l) {
            for (Object o : l) {
                check(a.elementType, o, key);
            }
            return true;
        }
        return switch (a.elements) {
            case float[] ignored -> a.elementType == ValueType.FLOAT32;
            case int[] ignored -> a.elementType == ValueType.INT32 || a.elementType == ValueType.UINT32;
            case long[] ignored -> a.elementType == ValueType.INT64 || a.elementType == ValueType.UINT64;
            default -> false;
        };
    }

    /** Little-endian header bytes. */
    private static final class Encoder {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 16);
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        long size() {
            return out.size();
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }

        private Encoder bytes(int n) {
            out.write(scratch.array(), 0, n);
            scratch.clear();
            return this;
        }

        Encoder i8(long v) {
            scratch.put((byte) v);
            return bytes(1);
        }

        Encoder i16(long v) {
            scratch.putShort((short) v);
            return bytes(2);
        }

        Encoder i32(long v) {
            scratch.putInt((int) v);
            return bytes(4);
        }

        Encoder i64(long v) {
            scratch.putLong(v);
            return bytes(8);
        }

        Encoder string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            out.write(b, 0, b.length);
            return this;
        }

        void value(ValueType type, Object v) {
            switch (type) {
                case UINT8, INT8 -> i8(((Number) v).longValue());
                case UINT16, INT16 -> i16(((Number) v).longValue());
                case UINT32, INT32 -> i32(((Number) v).longValue());
                case UINT64, INT64 -> i64(((Number) v).longValue());
                case FLOAT32 -> i32(Float.floatToRawIntBits(((Number) v).floatValue()));
                case FLOAT64 -> i64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
                case BOOL -> i8((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case ARRAY -> array((Array) v);
            }
        }

        private void array(Array a) {
            i32(a.elementType.id).i64(a.size());
            switch (a.elements) {
                case float[] f -> {
                    for (float x : f) {
                        i32(Float.floatToRawIntBits(x));
                    }
                }
                case int[] ints -> {
                    for (int x : ints) {
                        i32(x);
                    }
                }
                case long[] longs -> {
                    for (long x : longs) {
                        i64(x);
                    }
                }
                case List<?> list -> {
                    for (Object o : list) {
                        value(a.elementType, o);
                    }
                }
                default -> throw new IllegalStateException();
            }
        }
    }
}
