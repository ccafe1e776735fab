package dev.shardlight.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `classify-bench --json` on the llama fixture: medians of the three timed paths, and its usage errors. */
class ClassifyBenchCommandTest {
    @Test
    void reportsScorePrefillAndNaiveMedians() throws Exception {
        var r = CliContractTest.run("classify-bench", "--model", CliContractTest.FIXTURE.resolve("model-f32.gguf").toString(),
                "--prompt-tokens", "20", "--labels", "1,2,3", "--runs", "3", "--threads", "1", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode b = new ObjectMapper().readTree(r.out().strip());
        assertEquals(20, b.path("prompt_tokens").asInt());
        assertEquals(3, b.path("labels").size());
        assertTrue(b.path("score_ms").asDouble() > 0 && b.path("prefill_ms").asDouble() > 0 && b.path("naive_ms").asDouble() > 0);
    }

    @Test
    void badLabelLengthsAreAUsageError() {
        var r = CliContractTest.run("classify-bench", "--model", CliContractTest.FIXTURE.resolve("model-f32.gguf").toString(),
                "--labels", "1,x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--labels"), r.err());
        r = CliContractTest.run("classify-bench", "--model", CliContractTest.FIXTURE.resolve("model-f32.gguf").toString(),
                "--labels", "1,33");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("label lengths 1..32"), r.err());
    }
}
