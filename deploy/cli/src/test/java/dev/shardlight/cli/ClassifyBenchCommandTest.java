package dev.shardlight.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `classify-bench --json` on the fixtures: medians of the three timed paths (llama), the cluster mode (gemma, which has a tokenizer), usage errors. */
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
    void clusterModeTimesClassifyCallsThroughAOneNodeCluster() throws Exception {
        var r = CliContractTest.run("classify-bench", "--cluster", "--model",
                CliContractTest.FIXTURE.resolveSibling("gemma3-1b-like/model-q8_0.gguf").toString(), "--runs", "2", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode b = new ObjectMapper().readTree(r.out().strip());
        assertEquals(4, b.path("labels").size());
        assertTrue(b.path("prompt_tokens").asInt() > 20);
        assertTrue(b.path("call_ms").asDouble() >= b.path("engine_ms").asDouble() && b.path("engine_ms").asDouble() > 0);
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
