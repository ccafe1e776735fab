package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF v2/v3 file (ggml/docs/gguf.md), memory-mapped whole: metadata is parsed eagerly,
 * tensors are slices of the mapping, so weights are never copied onto the Java heap.
 *
 * <p>Metadata values: integers of every width → {@link Long} (u64 values above 2^63 wrap, as no
 * model key uses them); f32 → {@link Float}; f64 → {@link Double}; bool → {@link Boolean};
 * string → {@link String}. Arrays of f32 → {@code float[]}; arrays of integers → {@code long[]};
 * arrays of bool → {@code boolean[]}; arrays of f64 → {@code double[]}; arrays of strings and
 * nested arrays → {@code List<Object>}.
 */
public final class GgufFile implements AutoCloseable {

    private static final int MAGIC = 0x46554747; // "GGUF" little-endian
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor's header entry; dims[0] is the fastest-varying dimension (ggml's ne[0]). */
    public record TensorInfo(String name, GgmlType type, long[] dims, long offset) {
        public long elements() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }

        public long bytes() {
            return type.bytesFor(elements());
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapped;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment mapped) {
        this.path = path;
        this.arena = arena;
        this.mapped = mapped;
        Reader r = new Reader(mapped);
        if (mapped.byteSize() < 24 || r.i32() != MAGIC) {
            throw new ModelFormatException(path + " is not a GGUF file (bad magic)");
        }
        version = r.i32();
        if (version != 2 && version != 3) {
            throw new ModelFormatException(path + ": GGUF version " + version + " is not supported (2 and 3 are)");
        }
        long tensorCount = r.i64();
        long kvCount = r.i64();
        Map<String, Object> md = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = r.string();
            int type = r.i32();
            md.put(key, r.value(type, key));
        }
        metadata = Collections.unmodifiableMap(md);
        Map<String, TensorInfo> ts = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = r.string();
            int nDims = r.i32();
            if (nDims < 1 || nDims > 4) {
                throw new ModelFormatException(path + ": tensor " + name + " has " + nDims + " dimensions");
            }
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = r.i64();
            }
            int typeId = r.i32();
            GgmlType type = GgmlType.fromId(typeId);
            long offset = r.i64();
            if (type == null) {
                throw new ModelFormatException(path + ": tensor " + name + " has ggml type " + typeId
                        + " (" + ggmlTypeName(typeId) + "), which Shardlight does not support; supported: "
                        + java.util.Arrays.toString(GgmlType.values()));
            }
            ts.put(name, new TensorInfo(name, type, dims, offset));
        }
        tensors = Collections.unmodifiableMap(ts);
        long alignment = md.get("general.alignment") instanceof Long a ? a : 32L;
        dataStart = (r.pos + alignment - 1) / alignment * alignment;
        for (TensorInfo t : ts.values()) {
            if (t.offset % alignment != 0 || dataStart + t.offset + t.bytes() > mapped.byteSize()) {
                throw new ModelFormatException(path + ": tensor " + t.name + " (" + t.type + " "
                        + java.util.Arrays.toString(t.dims) + ") lies outside the file or is misaligned; truncated download?");
            }
        }
    }

    /** Maps {@code path} read-only (or copies it, see {@link dev.shardlight.engine.tensor.WeightMemory}). The memory lives until {@link #close()}. */
    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg = dev.shardlight.engine.tensor.WeightMemory.load(ch, arena, dev.shardlight.engine.tensor.WeightMemory.mode());
            return new GgufFile(path, arena, seg);
        } catch (RuntimeException | IOException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The bytes of one tensor, a slice of the mapping. */
    public MemorySegment data(TensorInfo t) {
        return mapped.asSlice(dataStart + t.offset, t.bytes());
    }

    /** A 2-D tensor as a weight matrix (rows = dims[1], cols = dims[0]). */
    public WeightMatrix matrix(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new ModelFormatException(path + ": tensor " + name + " is missing");
        }
        if (t.dims.length != 2) {
            throw new ModelFormatException(path + ": tensor " + name + " should be 2-D but has dims "
                    + java.util.Arrays.toString(t.dims));
        }
        return new WeightMatrix(name, t.type, Math.toIntExact(t.dims[1]), Math.toIntExact(t.dims[0]), data(t));
    }

    public String string(String key) {
        return metadata.get(key) instanceof String s ? s : null;
    }

    public Long integer(String key) {
        return metadata.get(key) instanceof Long l ? l : null;
    }

    /** A float-valued key; integer-typed values are accepted too (converters differ). */
    public Double real(String key) {
        Object v = metadata.get(key);
        if (v instanceof Float f) {
            return f.doubleValue();
        }
        if (v instanceof Double d) {
            return d;
        }
        if (v instanceof Long l) {
            return l.doubleValue();
        }
        return null;
    }

    @Override
    public void close() {
        arena.close();
    }

    static String ggmlTypeName(int id) {
        String[] names = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2(removed)", "Q4_3(removed)", "Q5_0", "Q5_1", "Q8_0",
            "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
            "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16"};
        return id >= 0 && id < names.length ? names[id] : "unknown";
    }

    /** Sequential little-endian reader over the mapping. */
    private final class Reader {
        private final MemorySegment seg;
        long pos;

        Reader(MemorySegment seg) {
            this.seg = seg;
        }

        private void need(long n) {
            if (pos + n > seg.byteSize()) {
                throw new ModelFormatException(path + ": header ends early at byte " + pos + "; truncated file?");
            }
        }

        int i32() {
            need(4);
            int v = seg.get(I32, pos);
            pos += 4;
            return v;
        }

        long i64() {
            need(8);
            long v = seg.get(I64, pos);
            pos += 8;
            return v;
        }

        String string() {
            long len = i64();
            if (len < 0 || len > Integer.MAX_VALUE) {
                throw new ModelFormatException(path + ": string length " + len + " at byte " + pos);
            }
            need(len);
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            return new String(b, StandardCharsets.UTF_8);
        }

        Object value(int type, String key) {
            switch (type) {
                case 0: need(1); return (long) Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, pos++));
                case 1: need(1); return (long) seg.get(ValueLayout.JAVA_BYTE, pos++);
                case 2: { need(2); long v = Short.toUnsignedInt(seg.get(I16, pos)); pos += 2; return v; }
                case 3: { need(2); long v = seg.get(I16, pos); pos += 2; return v; }
                case 4: return Integer.toUnsignedLong(i32());
                case 5: return (long) i32();
                case 6: { need(4); float v = seg.get(F32, pos); pos += 4; return v; }
                case 7: need(1); return seg.get(ValueLayout.JAVA_BYTE, pos++) != 0;
                case 8: return string();
                case 9: return array(key);
                case 10: case 11: return i64();
                case 12: { need(8); double v = seg.get(F64, pos); pos += 8; return v; }
                default: throw new ModelFormatException(path + ": metadata key " + key + " has unknown value type " + type);
            }
        }

        private Object array(String key) {
            int elemType = i32();
            long n = i64();
            if (n < 0 || n > Integer.MAX_VALUE) {
                throw new ModelFormatException(path + ": metadata array " + key + " has length " + n);
            }
            int count = (int) n;
            switch (elemType) {
                case 6: {
                    float[] a = new float[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Float) value(6, key);
                    }
                    return a;
                }
                case 12: {
                    double[] a = new double[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Double) value(12, key);
                    }
                    return a;
                }
                case 7: {
                    boolean[] a = new boolean[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Boolean) value(7, key);
                    }
                    return a;
                }
                case 0, 1, 2, 3, 4, 5, 10, 11: {
                    long[] a = new long[count];
                    for (int i = 0; i < count; i++) {
                        a[i] = (Long) value(elemType, key);
                    }
                    return a;
                }
                default: {
                    List<Object> a = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        a.add(value(elemType, key));
                    }
                    return a;
                }
            }
        }
    }
}
