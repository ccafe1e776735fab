package dev.shardlight.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command-line contract outside checks rely on (`logits`, `generate --json`, `bench --json`),
 * run in-process on the engine's committed fixture and held to its transformers golden.
 */
class CliContractTest {
    static final Path FIXTURE = Path.of("../../worker/engine/src/test/resources/fixtures/llama32-like");
    private static final ObjectMapper JSON = new ObjectMapper();

    record Run(int code, String out, String err) {
    }

    static Run run(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Shardlight.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String ids(JsonNode array) {
        StringBuilder sb = new StringBuilder();
        array.forEach(n -> sb.append(sb.isEmpty() ? "" : ",").append(n.asInt()));
        return sb.toString();
    }

    @Test
    void logitsPrintsOneJsonObjectPerPositionMatchingTransformers() throws Exception {
        JsonNode golden = JSON.readTree(FIXTURE.resolve("golden.json").toFile());
        JsonNode prompt = golden.path("prompts").get(0);
        Run r = run("logits", "--model", FIXTURE.resolve("hf-f32").toString(), "--tokens", ids(prompt), "--top", "10");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(prompt.size(), lines.length);
        JsonNode expected = golden.path("variants").path("f32").path("prompts").get(0).path("top10");
        for (int pos = 0; pos < lines.length; pos++) {
            JsonNode line = JSON.readTree(lines[pos]);
            assertEquals(pos, line.path("pos").asInt());
            assertEquals(10, line.path("top").size());
            for (int i = 0; i < 10; i++) {
                JsonNode got = line.path("top").get(i);
                JsonNode want = expected.get(pos).get(i);
                if (Math.abs(want.get(1).asDouble() - expected.get(pos).get(Math.min(i + 1, 9)).get(1).asDouble()) > 1e-3) {
                    assertEquals(want.get(0).asInt(), got.get(0).asInt(), "pos " + pos + " rank " + i);
                }
                assertEquals(want.get(1).asDouble(), got.get(1).asDouble(), 1e-3, "pos " + pos + " rank " + i);
            }
        }
    }

    @Test
    void generateJsonIsGreedyAtTemperatureZeroAndReportsSpeeds() throws Exception {
        JsonNode golden = JSON.readTree(FIXTURE.resolve("golden.json").toFile());
        JsonNode prompt = golden.path("prompts").get(1);
        JsonNode greedy = golden.path("variants").path("q8_0").path("prompts").get(1).path("greedy");
        Run r = run("generate", "--model", FIXTURE.resolve("model-q8_0.gguf").toString(), "--tokens", ids(prompt),
                "--max-tokens", "24", "--temperature", "0", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode g = JSON.readTree(r.out().strip());
        assertEquals(ids(prompt), ids(g.path("prompt_tokens")));
        // The golden does not stop at EOS (id 2); the CLI does, so compare up to where it stopped.
        JsonNode tokens = g.path("tokens");
        assertTrue(tokens.size() >= 1 && tokens.size() <= 24);
        for (int i = 0; i < tokens.size(); i++) {
            assertEquals(greedy.get(i).asInt(), tokens.get(i).asInt(), "token " + i);
        }
        assertEquals(tokens.size() == 24 ? "length" : "stop", g.path("finish_reason").asText());
        assertTrue(g.path("prefill_tok_s").asDouble() > 0 && g.has("decode_tok_s") && g.has("text"));
    }

    @Test
    void benchJsonReportsMediansAndMemory() throws Exception {
        Run r = run("bench", "--model", FIXTURE.resolve("model-q8_0.gguf").toString(), "--prompt-tokens", "16",
                "--gen-tokens", "8", "--runs", "3", "--threads", "1", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode b = JSON.readTree(r.out().strip());
        assertEquals(3, b.path("prefill_runs").size());
        assertTrue(b.path("prefill_tok_s").asDouble() > 0 && b.path("decode_tok_s").asDouble() > 0);
        assertTrue(b.path("peak_rss_bytes").asLong() > 0);
        assertEquals(4L * 2 * 16 * 2 * 4, b.path("kv_bytes_per_token").asLong(), "4 layers x 2 kv heads x 16 x K,V x float32");
    }

    @Test
    void usageErrorsExitTwoAndNameTheProblem() {
        Run r = run("logits", "--model", FIXTURE.resolve("model-q8_0.gguf").toString(), "--tokens", "1,x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--tokens") && r.err().contains("\"x\""), r.err());
        r = run("generate", "--model", "m.gguf", "--tokens", "1", "--temprature", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown option --temprature"), r.err());
        r = run("generate", "--model", FIXTURE.resolve("model-q8_0.gguf").toString(), "--tokens", "1", "--top-p", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("top_p"), r.err());
    }

    @Test
    void outOfVocabularyTokensAndMissingFilesFailWithTheirNames() {
        Run r = run("logits", "--model", FIXTURE.resolve("model-q8_0.gguf").toString(), "--tokens", "1,999999");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("999999") && r.err().contains("vocabulary"), r.err());
        r = run("logits", "--model", "/nonexistent/model.gguf", "--tokens", "1");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("/nonexistent/model.gguf"), r.err());
    }
}
