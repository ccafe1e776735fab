package dev.shardlight.engine.format;

import dev.shardlight.engine.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GgufWriterTest {

    @TempDir
    Path dir;

    @Test
    void everyMetadataValueTypeReadsBackAsWritten() throws IOException {
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "gemma3")
                .put("u8", GgufWriter.ValueType.UINT8, 250)
                .put("i8", GgufWriter.ValueType.INT8, -7)
                .put("u16", GgufWriter.ValueType.UINT16, 65000)
                .put("i16", GgufWriter.ValueType.INT16, -30000)
                .putUint32("u32", 4_000_000_000L)
                .putInt32("i32", -123456)
                .putFloat32("f32", 1e-6f)
                .putBool("yes", true)
                .putBool("no", false)
                .putString("utf8", "▁Grüße <start_of_turn>")
                .put("u64", GgufWriter.ValueType.UINT64, 1L << 40)
                .put("i64", GgufWriter.ValueType.INT64, -(1L << 40))
                .put("f64", GgufWriter.ValueType.FLOAT64, Math.PI)
                .putStrings("strings", List.of("<pad>", "", "ü"))
                .putInt32s("ints", new int[] {3, -1, 7})
                .putFloat32s("floats", new float[] {-1000f, 0f, 2.5f})
                .put("u8s", GgufWriter.ValueType.ARRAY, new GgufWriter.Array(GgufWriter.ValueType.UINT8, List.of(1, 255)))
                .put("bools", GgufWriter.ValueType.ARRAY, new GgufWriter.Array(GgufWriter.ValueType.BOOL, List.of(true, false)))
                .put("f64s", GgufWriter.ValueType.ARRAY, new GgufWriter.Array(GgufWriter.ValueType.FLOAT64, List.of(0.5, -2.0)))
                .put("i64s", GgufWriter.ValueType.ARRAY, new GgufWriter.Array(GgufWriter.ValueType.INT64, new long[] {-5, 1L << 50}))
                .put("nested", GgufWriter.ValueType.ARRAY, new GgufWriter.Array(GgufWriter.ValueType.ARRAY, List.of(
                        new GgufWriter.Array(GgufWriter.ValueType.INT32, new int[] {1, 2}),
                        new GgufWriter.Array(GgufWriter.ValueType.STRING, List.of("a")))))
                .putStrings("empty", List.of());
        Path file = dir.resolve("meta.gguf");
        w.write(file, 1);
        try (GgufFile f = GgufFile.open(file)) {
            Map<String, Object> m = f.metadata();
            assertEquals(3, f.version());
            assertEquals("gemma3", m.get("general.architecture"));
            assertEquals(250L, m.get("u8"));
            assertEquals(-7L, m.get("i8"));
            assertEquals(65000L, m.get("u16"));
            assertEquals(-30000L, m.get("i16"));
            assertEquals(4_000_000_000L, m.get("u32"));
            assertEquals(-123456L, m.get("i32"));
            assertEquals(1e-6f, m.get("f32"));
            assertEquals(true, m.get("yes"));
            assertEquals(false, m.get("no"));
            assertEquals("▁Grüße <start_of_turn>", m.get("utf8"));
            assertEquals(1L << 40, m.get("u64"));
            assertEquals(-(1L << 40), m.get("i64"));
            assertEquals(Math.PI, m.get("f64"));
            assertEquals(List.of("<pad>", "", "ü"), m.get("strings"));
            assertArrayEquals(new long[] {3, -1, 7}, (long[]) m.get("ints"));
            assertArrayEquals(new float[] {-1000f, 0f, 2.5f}, (float[]) m.get("floats"));
            assertArrayEquals(new long[] {1, 255}, (long[]) m.get("u8s"));
            assertArrayEquals(new boolean[] {true, false}, (boolean[]) m.get("bools"));
            assertArrayEquals(new double[] {0.5, -2.0}, (double[]) m.get("f64s"));
            assertArrayEquals(new long[] {-5, 1L << 50}, (long[]) m.get("i64s"));
            List<?> nested = (List<?>) m.get("nested");
            assertArrayEquals(new long[] {1, 2}, (long[]) nested.get(0));
            assertEquals(List.of("a"), nested.get(1));
            assertEquals(List.of(), m.get("empty"));
            assertEquals(32L, m.get("general.alignment"), "added when not put");
        }
    }

    @Test
    void everyTensorTypeReadsBackByteForByteAtAlignedOffsets() throws IOException {
        Random random = new Random(7);
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama");
        Map<String, byte[]> expected = new java.util.LinkedHashMap<>();
        for (GgmlType type : GgmlType.values()) {
            long[] dims = {512, 3};
            byte[] bytes = new byte[(int) (3 * type.bytesFor(512))];
            random.nextBytes(bytes);
            expected.put("t." + type, bytes);
            w.addTensor("t." + type, type, dims, TensorData.ofBytes(MemorySegment.ofArray(bytes), type.bytesFor(512)));
        }
        byte[] vector = new byte[4 * 7];
        random.nextBytes(vector);
        expected.put("odd_sized_vector", vector);
        w.addTensor("odd_sized_vector", GgmlType.F32, new long[] {7}, TensorData.ofBytes(MemorySegment.ofArray(vector), 28));
        byte[] cube = new byte[2 * 64 * 2 * 3];
        random.nextBytes(cube);
        expected.put("cube", cube);
        w.addTensor("cube", GgmlType.F16, new long[] {64, 2, 3}, TensorData.ofBytes(MemorySegment.ofArray(cube), 128));
        Path file = dir.resolve("tensors.gguf");
        w.write(file, 2);

        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(List.copyOf(expected.keySet()), List.copyOf(f.tensors().keySet()));
            for (Map.Entry<String, byte[]> e : expected.entrySet()) {
                GgufFile.TensorInfo t = f.tensors().get(e.getKey());
                assertEquals(0, t.offset() % 32, e.getKey());
                assertArrayEquals(e.getValue(), f.data(t).toArray(ValueLayout.JAVA_BYTE), e.getKey());
            }
            assertEquals(GgmlType.Q6_K, f.tensors().get("t.Q6_K").type());
            assertArrayEquals(new long[] {64, 2, 3}, f.tensors().get("cube").dims());
            assertEquals(0, Files.size(file) % 32, "the last tensor is zero-padded to the alignment too");
        }
    }

    @Test
    void tensorsLargerThanOneChunkAreSplitAcrossThreadsAndReassembled() throws IOException {
        int cols = 4096;
        int rows = 600; // 600 rows of 16 KiB: 9.4 MiB, three chunks
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama");
        w.addTensor("big", GgmlType.F32, new long[] {cols, rows},
                TensorData.encoded(GgmlType.F32, cols, (r, dst) -> {
                    for (int i = 0; i < dst.length; i++) {
                        dst[i] = r * 10_000f + i;
                    }
                }));
        Path file = dir.resolve("big.gguf");
        w.write(file, 3);
        try (GgufFile f = GgufFile.open(file)) {
            MemorySegment data = f.data(f.tensors().get("big"));
            for (int r = 0; r < rows; r += 37) {
                for (int i = 0; i < cols; i += 511) {
                    assertEquals(r * 10_000f + i, data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) r * cols + i));
                }
            }
        }
    }

    @Test
    void rowsThatAreNotWholeBlocksAreRejected() {
        GgufWriter w = new GgufWriter();
        TensorData none = (first, count, dst) -> { };
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x", GgmlType.Q8_0, new long[] {48, 2}, none));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("y", GgmlType.Q4_K, new long[] {128}, none));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z".repeat(64), GgmlType.F32, new long[] {1}, none));
        assertThrows(IllegalArgumentException.class, () -> w.put("bad", GgufWriter.ValueType.STRING, 3));
    }
}
