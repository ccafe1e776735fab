package dev.shardlight.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.gateway.DelayedEngine;
import dev.shardlight.gateway.PromptCodec;
import dev.shardlight.gateway.ShardlightNode;
import dev.shardlight.gateway.TokenizerCodecs;
import dev.shardlight.worker.EngineReplica;
import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.TokenLogprobs;
import dev.shardlight.worker.ReplicaEngine;
import io.grpc.inprocess.InProcessServerBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OpenAI-compatible HTTP API of a real single-JVM node (tiny Gemma 3 fixture with its own
 * tokenizer and chat template), over real HTTP: shapes, streaming, errors, keys, disconnects.
 */
class OpenAiHttpTest {
    static final String KEY = "sk-test-key";
    static ShardlightNode node;
    static String base;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** Tokens the engine produced per sequence, and the last sequence's KV bytes after it ended. */
    static final List<Integer> producedPerSequence = new java.util.concurrent.CopyOnWriteArrayList<>();
    static final AtomicReference<ReplicaEngine> engine = new AtomicReference<>();
    static final AtomicInteger running = new AtomicInteger();
    /** Held before the first token (until cancelled): a request that is admitted but produces nothing yet. */
    static volatile long firstTokenDelayMillis;

    /** The real engine, slowed to ~100 tokens/s so a disconnect lands mid-stream. */
    static ReplicaEngine slowed(ReplicaEngine real) {
        return new DelayedEngine(real, () -> 0, () -> 0) {
            @Override
            public void submit(BatchScheduler.Request request, BatchScheduler.Sink sink) {
                AtomicInteger n = new AtomicInteger();
                running.incrementAndGet();
                long firstTokenAt = System.nanoTime() + firstTokenDelayMillis * 1_000_000;
                real.submit(request, new BatchScheduler.Sink() {
                    @Override
                    public boolean ready() {
                        // held before the first token (the scheduler keeps polling cancellation meanwhile)
                        return (n.get() > 0 || System.nanoTime() >= firstTokenAt) && sink.ready();
                    }

                    @Override
                    public boolean cancelled() {
                        return sink.cancelled();
                    }

                    @Override
                    public void token(int token, TokenLogprobs logprobs) {
                        n.incrementAndGet();
                        try {
                            Thread.sleep(10);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        sink.token(token, logprobs);
                    }

                    @Override
                    public void finished(BatchScheduler.Result result) {
                        producedPerSequence.add(n.get());
                        running.decrementAndGet();
                        sink.finished(result);
                    }
                });
            }
        };
    }

    /** The tiny fixture has a tokenizer but no chat template: render chats as "role: content" lines. */
    static PromptCodec.Registry withPlainChat(PromptCodec.Registry real) {
        return id -> real.forModel(id).map(c -> new PromptCodec() {
            @Override
            public int[] encode(String text) {
                return c.encode(text);
            }

            @Override
            public int[] encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools) {
                StringBuilder sb = new StringBuilder();
                tools.forEach(t -> sb.append("tool: ").append(t.get("name")).append('\n'));
                messages.forEach(m -> sb.append(m.get("role")).append(": ").append(m.get("content")).append('\n'));
                if (messages.getFirst().get("role").equals("robot")) {
                    throw new IllegalArgumentException("unreachable: roles are checked first");
                }
                return c.encode(sb.append("assistant: ").toString());
            }

            @Override
            public String tokenText(int tokenId) {
                return c.tokenText(tokenId);
            }

            @Override
            public Decoder newDecoder() {
                return c.newDecoder();
            }
        });
    }

    @BeforeAll
    static void start() throws Exception {
        Path model = Path.of(OpenAiHttpTest.class.getResource("/models/gemma3-tiny-q8_0.gguf").toURI());
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        var config = ConfigFactory.parseString("""
                shardlight.cluster-port = 0
                shardlight.metrics.port = 0
                shardlight.router.poll-interval = 100ms
                shardlight.worker.memory-mb = 4096
                shardlight.http.port = %d
                shardlight.http.max-body-bytes = 65536
                shardlight.gateway.api-keys { "%s" = "tenant-a" }
                pekko.loglevel = WARNING
                pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
                shardlight.models = [ { id = "tiny", path = "%s", replicas = 1, context-length = 256, kv-budget-mb = 16, queue-capacity = 4 } ]
                """.formatted(port, KEY, model.toString().replace("\\", "/")));
        node = ShardlightNode.start(config, spec -> {
                    ReplicaEngine e = slowed(EngineReplica.open(spec));
                    engine.set(e);
                    return e;
                }, catalog -> withPlainChat(new TokenizerCodecs(catalog)),
                (host, p) -> InProcessServerBuilder.forName("openai-http-test"));
        assertTrue(node.awaitSettled(Duration.ofSeconds(60)).isEmpty());
        assertEquals(port, node.httpPort());
        base = "http://127.0.0.1:" + port;
    }

    @AfterAll
    static void stop() throws Exception {
        if (node != null) {
            node.close();
        }
    }

    /** The sum of a metric's samples whose labels include all of {@code labels} ("k=\"v\"" pairs). */
    static double metric(String name, String... labels) {
        String text = metricsText();
        double sum = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith(name + "{") && java.util.Arrays.stream(labels).allMatch(line::contains)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    static String metricsText() {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.metricsPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
            throw new IllegalStateException("no /metrics", e);
        }
    }

    record Reply(int status, JsonNode json, HttpResponse<String> raw) {
    }

    static Reply call(String method, String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = HTTP.send(b.header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = r.body().startsWith("{") ? OpenAiHttpServer.JSON.readTree(r.body()) : null;
        return new Reply(r.statusCode(), json, r);
    }

    static Reply post(String path, String body) throws Exception {
        return call("POST", path, body, KEY);
    }

    static void assertError(Reply r, int status, String param) {
        assertEquals(status, r.status(), r.raw().body());
        JsonNode e = r.json().get("error");
        assertNotNull(e, r.raw().body());
        assertTrue(e.has("message") && e.has("type") && e.has("param") && e.has("code"), r.raw().body());
        if (param != null) {
            assertEquals(param, e.get("param").asText(), r.raw().body());
        }
    }

    @Test
    void healthReadyAndModels() throws Exception {
        assertEquals(200, call("GET", "/health", null, null).status());
        assertEquals(200, call("GET", "/ready", null, null).status());
        Reply list = call("GET", "/v1/models", null, KEY);
        assertEquals(200, list.status());
        assertEquals("list", list.json().get("object").asText());
        assertEquals("tiny", list.json().get("data").get(0).get("id").asText());
        Reply one = call("GET", "/v1/models/tiny", null, KEY);
        assertEquals("model", one.json().get("object").asText());
        assertEquals(256, one.json().get("context_length").asInt());
        Reply missing = call("GET", "/v1/models/nope", null, KEY);
        assertError(missing, 404, "model");
        assertEquals("model_not_found", missing.json().get("error").get("code").asText());
    }

    @Test
    void keysMapToTenants() throws Exception {
        assertError(call("GET", "/v1/models", null, null), 401, null);
        Reply bad = call("POST", "/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "wrong");
        assertError(bad, 401, null);
        assertEquals("invalid_api_key", bad.json().get("error").get("code").asText());
    }

    @Test
    void chatCompletionWithUsage() throws Exception {
        Reply r = post("/v1/chat/completions", """
                {"model":"tiny","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello!"}],
                 "max_tokens":8,"temperature":0.7,"top_p":0.9,"seed":7,"top_k":40,"min_p":0.01,"repetition_penalty":1.1,
                 "presence_penalty":0.1,"frequency_penalty":0.1,"user":"u1","n":1}""");
        assertEquals(200, r.status(), r.raw().body());
        JsonNode j = r.json();
        assertEquals("chat.completion", j.get("object").asText());
        assertEquals("assistant", j.at("/choices/0/message/role").asText());
        assertTrue(j.at("/choices/0/message/content").isTextual());
        int completion = j.at("/usage/completion_tokens").asInt();
        assertTrue(completion >= 1 && completion <= 8, j.toString());
        assertTrue(j.at("/usage/prompt_tokens").asInt() > 3);
        assertEquals(j.at("/usage/prompt_tokens").asInt() + completion, j.at("/usage/total_tokens").asInt());
        assertEquals(completion == 8 ? "length" : "stop", j.at("/choices/0/finish_reason").asText());
    }

    @Test
    void chatStreamsSseWithUsageAndDone() throws Exception {
        Reply r = post("/v1/chat/completions", """
                {"model":"tiny","messages":[{"role":"user","content":"Count"}],"max_completion_tokens":12,"stream":true,
                 "stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2}""");
        assertEquals(200, r.status(), r.raw().body());
        assertTrue(r.raw().headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<JsonNode> events = new ArrayList<>();
        String last = null;
        for (String line : r.raw().body().split("\n")) {
            if (line.startsWith("data: ")) {
                last = line.substring(6);
                if (!last.equals("[DONE]")) {
                    events.add(OpenAiHttpServer.JSON.readTree(last));
                }
            }
        }
        assertEquals("[DONE]", last);
        assertEquals("assistant", events.getFirst().at("/choices/0/delta/role").asText());
        JsonNode usage = events.getLast().get("usage");
        assertEquals(0, events.getLast().get("choices").size());
        int logprobTokens = 0;
        String finish = null;
        for (JsonNode e : events) {
            assertEquals("chat.completion.chunk", e.get("object").asText());
            for (JsonNode c : e.get("choices")) {
                if (c.at("/logprobs/content").isArray()) {
                    for (JsonNode lp : c.at("/logprobs/content")) {
                        logprobTokens++;
                        assertTrue(lp.get("logprob").asDouble() <= 0);
                        assertEquals(2, lp.get("top_logprobs").size());
                    }
                }
                if (!c.get("finish_reason").isNull()) {
                    finish = c.get("finish_reason").asText();
                }
            }
        }
        assertNotNull(finish);
        assertEquals(usage.get("completion_tokens").asInt(), logprobTokens, "a logprob per token served");
    }

    @Test
    void toolsReachTheChatTemplate() throws Exception {
        String tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\"}}}]";
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}]";
        Reply with = post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + "," + tools + ",\"max_tokens\":4}");
        Reply none = post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + "," + tools
                + ",\"tool_choice\":\"none\",\"max_tokens\":4}");
        assertEquals(200, with.status(), with.raw().body());
        assertEquals(200, none.status(), none.raw().body());
        assertTrue(with.json().at("/usage/prompt_tokens").asInt() > none.json().at("/usage/prompt_tokens").asInt(),
                "the offered tool is rendered into the prompt (and left out with tool_choice none)");
        Reply streamed = post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + "," + tools
                + ",\"max_tokens\":4,\"stream\":true}");
        assertTrue(streamed.raw().body().strip().endsWith("data: [DONE]"), streamed.raw().body());
    }

    @Test
    void completionsTextAndTokenIds() throws Exception {
        Reply r = post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once upon a time\",\"max_tokens\":6,\"logprobs\":2,\"stop\":[\"zzzz\"]}");
        assertEquals(200, r.status(), r.raw().body());
        assertEquals("text_completion", r.json().get("object").asText());
        assertTrue(r.json().at("/choices/0/text").isTextual());
        assertEquals(r.json().at("/usage/completion_tokens").asInt(), r.json().at("/choices/0/logprobs/tokens").size());
        Reply ids = post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":[2,10,20],\"max_tokens\":3}");
        assertEquals(200, ids.status(), ids.raw().body());
        assertEquals(3, ids.json().at("/usage/prompt_tokens").asInt());
    }

    @Test
    void errorsHaveOpenAiShapeAndStatus() throws Exception {
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        assertError(post("/v1/chat/completions", "{\"model\":\"nope\"," + msgs + "}"), 404, "model");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + ",\"n\":2}"), 400, "n");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + ",\"response_format\":{\"type\":\"json_object\"}}"),
                400, "response_format");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + ",\"top_p\":5}"), 400, "top_p");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + ",\"temperature\":\"hot\"}"), 400, "temperature");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + ",\"tool_choice\":\"required\"}"), 400, "tool_choice");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":[]}"), 400, "messages");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}"),
                400, "messages");
        assertError(post("/v1/chat/completions", "{not json"), 400, null);
        Reply over = post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "hello ".repeat(300) + "\",\"max_tokens\":10}");
        assertError(over, 400, "prompt");
        assertEquals("context_length_exceeded", over.json().at("/error/code").asText());
        assertTrue(over.json().at("/error/message").asText().matches("(?s).*\\(\\d+ tokens\\).*\\(256 tokens\\).*"),
                over.json().toString());
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "x".repeat(70_000) + "\"}"), 413, null);
        assertError(call("GET", "/v1/nothing", null, KEY), 404, null);
    }

    /** Sends a POST over a raw socket (so the test controls when the connection closes); returns the response reader. */
    static BufferedReader postOn(Socket s, String path, String body) throws java.io.IOException {
        OutputStream out = s.getOutputStream();
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        out.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        out.write(b);
        out.flush();
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
    }

    @Test
    void disconnectMidStreamCancelsGeneration() throws Exception {
        int before = producedPerSequence.size();
        String body = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell a long story\"}],"
                + "\"max_tokens\":200,\"stream\":true,\"temperature\":1.0,\"seed\":3}";
        URI uri = URI.create(base);
        try (Socket s = new Socket(uri.getHost(), uri.getPort())) {
            BufferedReader in = postOn(s, "/v1/chat/completions", body);
            int events = 0;
            for (String line; (line = in.readLine()) != null && events < 3; ) {
                if (line.startsWith("data: ")) {
                    events++;
                }
            }
            assertEquals(3, events, "stream started");
        } // closed mid-stream
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((producedPerSequence.size() == before || running.get() > 0) && System.nanoTime() < end) {
            Thread.sleep(20);
        }
        assertTrue(producedPerSequence.size() > before, "the sequence ended");
        int produced = producedPerSequence.getLast();
        assertTrue(produced < 150, "cancelled soon after the disconnect, not run to max_tokens: " + produced);
        assertEquals(0, engine.get().kvBytesInUse(), "KV freed");
    }

    @Test
    void disconnectBeforeTheFirstTokenCancelsWithinASecond() throws Exception {
        int before = producedPerSequence.size();
        firstTokenDelayMillis = 60_000;
        try {
            String body = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Wait\"}],"
                    + "\"max_tokens\":50,\"stream\":true}";
            URI uri = URI.create(base);
            long closedAt;
            try (Socket s = new Socket(uri.getHost(), uri.getPort())) {
                BufferedReader in = postOn(s, "/v1/chat/completions", body);
                String status = in.readLine();
                assertTrue(status.contains(" 200 "), status);
                boolean keepAlive = false;
                for (String line; !keepAlive && (line = in.readLine()) != null; ) {
                    keepAlive = line.equals(": keep-alive");
                }
                assertTrue(keepAlive, "SSE comments flow while the first token is awaited");
                assertEquals(1, running.get(), "the sequence is admitted and waiting for its first token");
                closedAt = System.nanoTime();
            } // the client goes away before any token
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (producedPerSequence.size() == before && System.nanoTime() < end) {
                Thread.sleep(10);
            }
            long tookMillis = (System.nanoTime() - closedAt) / 1_000_000;
            assertTrue(producedPerSequence.size() > before, "the waiting sequence was cancelled");
            assertTrue(producedPerSequence.getLast() <= 1, "at most the token the engine computes before it sees the flag");
            assertTrue(tookMillis < 3_000, "cancelled " + tookMillis + " ms after the disconnect, not at its 60 s wait");
            assertEquals(0, engine.get().kvBytesInUse(), "KV freed");
        } finally {
            firstTokenDelayMillis = 0;
        }
    }

    @Test
    void refusalsAtTheHttpDoorAreCountedLikeGrpcOnes() throws Exception {
        String requests = "shardlight_requests_total";
        double badJson = metric(requests, "tenant=\"tenant-a\"", "status=\"INVALID_ARGUMENT\"", "model=\"\"");
        double tooMany = metric(requests, "tenant=\"tenant-a\"", "status=\"INVALID_ARGUMENT\"", "model=\"tiny\"");
        double tooLarge = metric(requests, "tenant=\"tenant-a\"", "status=\"RESOURCE_EXHAUSTED\"");
        double unknownKey = metric(requests, "tenant=\"unauthenticated\"", "status=\"UNAUTHENTICATED\"", "model=\"\"");
        double notFound = metric(requests, "tenant=\"tenant-a\"", "status=\"NOT_FOUND\"", "model=\"nope\"");
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        assertError(post("/v1/chat/completions", "{not json"), 400, null);
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + ",\"n\":2}"), 400, "n");
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "x".repeat(70_000) + "\"}"), 413, null);
        assertError(call("POST", "/v1/chat/completions", "{\"model\":\"tiny\"," + msgs + "}", "sk-wrong"), 401, null);
        assertError(post("/v1/chat/completions", "{\"model\":\"nope\"," + msgs + "}"), 404, "model");
        assertEquals(badJson + 1, metric(requests, "tenant=\"tenant-a\"", "status=\"INVALID_ARGUMENT\"", "model=\"\""));
        assertEquals(tooMany + 1, metric(requests, "tenant=\"tenant-a\"", "status=\"INVALID_ARGUMENT\"", "model=\"tiny\""));
        assertEquals(tooLarge + 1, metric(requests, "tenant=\"tenant-a\"", "status=\"RESOURCE_EXHAUSTED\""));
        // the key is checked at the door before the body is read, so that count carries no model
        assertEquals(unknownKey + 1, metric(requests, "tenant=\"unauthenticated\"", "status=\"UNAUTHENTICATED\"", "model=\"\""),
                () -> metricsText().lines().filter(l -> l.startsWith(requests)).toList().toString());
        // refused by the gRPC service, which counts it itself: once, not twice
        assertEquals(notFound + 1, metric(requests, "tenant=\"tenant-a\"", "status=\"NOT_FOUND\"", "model=\"nope\""),
                () -> metricsText().lines().filter(l -> l.startsWith(requests)).toList().toString());
    }
}
