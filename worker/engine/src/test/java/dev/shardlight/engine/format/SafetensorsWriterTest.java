package dev.shardlight.engine.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsWriterTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** Element i of a tensor holds i + offset. */
    private static TensorData counting(GgmlType type, int rowLength, float offset) {
        return TensorData.encoded(type, rowLength, (row, dst) -> {
            for (int i = 0; i < dst.length; i++) {
                dst[i] = offset + row * rowLength + i;
            }
        });
    }

    private record Parsed(JsonNode header, ByteBuffer data, long headerLength) {
    }

    private static Parsed parse(Path file) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long n = all.getLong(0);
        String text = new String(all.array(), 8, (int) n, StandardCharsets.UTF_8);
        return new Parsed(JSON.readTree(text), all.slice(8 + (int) n, all.capacity() - 8 - (int) n).order(ByteOrder.LITTLE_ENDIAN), n);
    }

    @Test
    void singleFileHeaderListsDtypeShapeAndOffsetsInDataOrder() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter()
                .add("model.norm.weight", GgmlType.F32, new long[] {8}, counting(GgmlType.F32, 8, 0))
                .add("model.embed_tokens.weight", GgmlType.BF16, new long[] {3, 8}, counting(GgmlType.BF16, 8, 100))
                .add("model.layers.0.mlp.up_proj.weight", GgmlType.F16, new long[] {2, 8}, counting(GgmlType.F16, 8, -5))
                .add("model.layers.0.input_layernorm.weight", GgmlType.BF16, new long[] {8}, counting(GgmlType.BF16, 8, 1));
        List<Path> files = w.write(dir, 2);
        assertEquals(List.of(dir.resolve("model.safetensors")), files);
        Parsed p = parse(files.getFirst());
        assertEquals(0, p.headerLength % 8, "header padded to 8 bytes");
        String raw = new String(Files.readAllBytes(files.getFirst()), 8, (int) p.headerLength, StandardCharsets.UTF_8);
        assertTrue(raw.startsWith("{\"__metadata__\":{\"format\":\"pt\"},"), raw);
        String json = raw.stripTrailing();
        assertTrue(json.endsWith("}"));
        assertEquals(" ".repeat(raw.length() - json.length()), raw.substring(json.length()), "padding is spaces");

        List<String> names = new ArrayList<>();
        p.header.fieldNames().forEachRemaining(names::add);
        // safetensors order: F32 first, then BF16 (by name), then F16.
        assertEquals(List.of("__metadata__", "model.norm.weight", "model.embed_tokens.weight",
                "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.up_proj.weight"), names);
        JsonNode embed = p.header.get("model.embed_tokens.weight");
        assertEquals("BF16", embed.get("dtype").asText());
        assertEquals("[3,8]", embed.get("shape").toString());
        assertEquals("[32,80]", embed.get("data_offsets").toString());
        assertEquals("[0,32]", p.header.get("model.norm.weight").get("data_offsets").toString());
        assertEquals("[96,128]", p.header.get("model.layers.0.mlp.up_proj.weight").get("data_offsets").toString());
        assertEquals(128, p.data.capacity());

        assertEquals(7f, p.data.getFloat(4 * 7));
        assertEquals(100f + 17, Quantizer.bf16ToFloat(p.data.getShort(32 + 2 * 17)));
        assertEquals(-5f + 9, Float.float16ToFloat(p.data.getShort(96 + 2 * 9)));
    }

    @Test
    void checkpointsOverTheShardLimitAreSplitWithAnIndex() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter(100); // bytes
        for (int i = 0; i < 5; i++) {
            w.add("model.layers." + i + ".w", GgmlType.F32, new long[] {4, 4}, counting(GgmlType.F32, 4, i * 1000)); // 64 B each
        }
        w.add("model.big", GgmlType.F32, new long[] {64}, counting(GgmlType.F32, 64, 0)); // 256 B: a shard of its own
        List<Path> files = w.write(dir, 1);
        List<String> expectedShards = List.of("model-00001-of-00006.safetensors", "model-00002-of-00006.safetensors",
                "model-00003-of-00006.safetensors", "model-00004-of-00006.safetensors",
                "model-00005-of-00006.safetensors", "model-00006-of-00006.safetensors");
        assertEquals(expectedShards, files.stream().limit(6).map(f -> f.getFileName().toString()).toList());
        assertEquals(dir.resolve("model.safetensors.index.json"), files.getLast());
        assertFalse(Files.exists(dir.resolve("model.safetensors")));

        JsonNode index = JSON.readTree(files.getLast().toFile());
        assertEquals(5 * 64 + 256, index.get("metadata").get("total_size").asLong());
        JsonNode map = index.get("weight_map");
        assertEquals(6, map.size());
        assertEquals("model-00003-of-00006.safetensors", map.get("model.layers.2.w").asText());
        assertEquals("model-00006-of-00006.safetensors", map.get("model.big").asText());
        List<String> keys = new ArrayList<>();
        map.fieldNames().forEachRemaining(keys::add);
        assertEquals(keys.stream().sorted().toList(), keys, "weight_map keys sorted, as json.dumps(sort_keys=True)");

        Parsed third = parse(dir.resolve("model-00003-of-00006.safetensors"));
        assertEquals("[0,64]", third.header.get("model.layers.2.w").get("data_offsets").toString());
        assertEquals(2000f + 13, third.data.getFloat(4 * 13));
    }

    @Test
    void pythonJsonMatchesTransformersLayout() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("vocab_size", 262144);
        m.put("eos_token_id", List.of(1, 106));
        m.put("rms_norm_eps", 1e-6);
        m.put("rope_scaling", null);
        m.put("rope_theta", 1_000_000.0);
        m.put("initializer_range", 0.02);
        m.put("architectures", List.of("Gemma3ForCausalLM"));
        assertEquals("""
                {
                  "architectures": [
                    "Gemma3ForCausalLM"
                  ],
                  "eos_token_id": [
                    1,
                    106
                  ],
                  "initializer_range": 0.02,
                  "rms_norm_eps": 1e-06,
                  "rope_scaling": null,
                  "rope_theta": 1000000.0,
                  "vocab_size": 262144
                }""", PythonJson.pretty(m));
        assertEquals("1e-05", PythonJson.pythonFloat(1e-5));
        assertEquals("0.0001", PythonJson.pythonFloat(1e-4));
        assertEquals("1e+16", PythonJson.pythonFloat(1e16));
        assertEquals("32.0", PythonJson.pythonFloat(32));
        assertEquals("-1.5e-07", PythonJson.pythonFloat(-1.5e-7));
    }
}
