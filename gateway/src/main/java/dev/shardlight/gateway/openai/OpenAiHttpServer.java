package dev.shardlight.gateway.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.shardlight.proto.v1.Delta;
import dev.shardlight.proto.v1.FinishReason;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.ListModelsRequest;
import dev.shardlight.proto.v1.Model;
import dev.shardlight.proto.v1.ReplicaState;
import dev.shardlight.proto.v1.TokenLogprob;
import dev.shardlight.proto.v1.TopLogprob;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * The OpenAI-compatible HTTP API (JDK HTTP server, one virtual thread per exchange):
 * POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{id},
 * GET /health, GET /ready. Every call goes through the gateway's gRPC Inference service over
 * {@code channel} (in-process), with the caller's {@code Authorization} / {@code x-api-key}
 * forwarded, so tenants, validation, routing, flow control and metrics are the gRPC path's own.
 * Streams are server-sent events; a client that goes away mid-stream cancels the gRPC call,
 * which cancels the sequence on its replica and frees its KV cache.
 */
public final class OpenAiHttpServer {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(OpenAiHttpServer.class);
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Channel channel;
    private final long maxBodyBytes;
    private final BooleanSupplier ready;
    private final long created = System.currentTimeMillis() / 1000;
    private final Set<Context.CancellableContext> running = ConcurrentHashMap.newKeySet();

    private OpenAiHttpServer(HttpServer server, Channel channel, long maxBodyBytes, BooleanSupplier ready) {
        this.server = server;
        this.channel = channel;
        this.maxBodyBytes = maxBodyBytes;
        this.ready = ready;
    }

    /**
     * @param port         0: any free port
     * @param maxBodyBytes larger request bodies get 413
     * @param ready        whether some model can serve (GET /ready)
     */
    public static OpenAiHttpServer start(String host, int port, long maxBodyBytes, Channel channel, BooleanSupplier ready)
            throws IOException {
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            // SSE chunks are small: no Nagle delay (read when the JDK server first loads its settings)
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 256);
        OpenAiHttpServer s = new OpenAiHttpServer(server, channel, maxBodyBytes, ready);
        server.createContext("/", s::handle);
        server.setExecutor(s.executor);
        server.start();
        return s;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** Stops accepting, waits up to {@code graceSeconds} for running exchanges, then cancels what is left. */
    public void stop(long graceSeconds) {
        server.stop((int) Math.max(0, Math.min(graceSeconds, Integer.MAX_VALUE)));
        running.forEach(c -> c.cancel(new IOException("HTTP server stopped")));
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) {
        String requestId = requestId(ex);
        ex.getResponseHeaders().set("x-request-id", requestId);
        try {
            route(ex, requestId);
        } catch (OpenAiError e) {
            sendError(ex, e);
        } catch (StatusRuntimeException e) {
            sendError(ex, OpenAiError.fromGrpc(e, "messages"));
        } catch (IOException e) {
            LOG.debug("HTTP client went away: {}", e.toString());
        } catch (RuntimeException | Error e) {
            LOG.error("HTTP request {} {} failed", ex.getRequestMethod(), ex.getRequestURI(), e);
            sendError(ex, new OpenAiError(500, "server_error", "internal error: " + e, null, null, 0));
        } finally {
            ex.close();
        }
    }

    private void route(HttpExchange ex, String requestId) throws IOException {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        if (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        switch (path) {
            case "/health" -> {
                expect(method, "GET");
                sendJson(ex, 200, JSON.createObjectNode().put("status", "ok"));
            }
            case "/ready" -> {
                expect(method, "GET");
                boolean ok = ready.getAsBoolean();
                sendJson(ex, ok ? 200 : 503, JSON.createObjectNode().put("status", ok ? "ready" : "no model can serve yet"));
            }
            case "/v1/models" -> {
                expect(method, "GET");
                ArrayNode data = JSON.createArrayNode();
                stub(ex).listModels(ListModelsRequest.getDefaultInstance()).getModelsList().forEach(m -> data.add(model(m)));
                ObjectNode out = JSON.createObjectNode().put("object", "list");
                out.set("data", data);
                sendJson(ex, 200, out);
            }
            case "/v1/chat/completions" -> {
                expect(method, "POST");
                generate(ex, OpenAiRequests.chat(body(ex), requestId), true, requestId);
            }
            case "/v1/completions" -> {
                expect(method, "POST");
                generate(ex, OpenAiRequests.completion(body(ex), requestId), false, requestId);
            }
            default -> {
                if (path.startsWith("/v1/models/")) {
                    expect(method, "GET");
                    String id = path.substring("/v1/models/".length());
                    try {
                        sendJson(ex, 200, model(stub(ex).getModel(GetModelRequest.newBuilder().setId(id).build())));
                    } catch (StatusRuntimeException e) {
                        throw OpenAiError.fromGrpc(e, "model");
                    }
                } else {
                    throw new OpenAiError(404, "invalid_request_error", "unknown path " + method + " " + path
                            + " (served: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{id},"
                            + " GET /health, GET /ready)", null, "unknown_url", 0);
                }
            }
        }
    }

    private static void expect(String method, String wanted) {
        if (!method.equals(wanted)) {
            throw new OpenAiError(405, "invalid_request_error", "method " + method + " not allowed here; use " + wanted,
                    null, "method_not_allowed", 0);
        }
    }

    private ObjectNode model(Model m) {
        ObjectNode o = JSON.createObjectNode().put("id", m.getId()).put("object", "model").put("created", created)
                .put("owned_by", "shardlight").put("max_model_len", m.getContextLength())
                .put("context_length", m.getContextLength()).put("has_tokenizer", m.getHasTokenizer())
                .put("ready_replicas", m.getReplicasList().stream().filter(r -> r.getState() == ReplicaState.REPLICA_STATE_READY).count());
        if (!m.getArchitecture().isEmpty()) {
            o.put("architecture", m.getArchitecture());
        }
        return o;
    }

    private InferenceGrpc.InferenceBlockingStub stub(HttpExchange ex) {
        Metadata md = new Metadata();
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth != null && !auth.isBlank()) {
            md.put(AUTHORIZATION, auth.trim());
        }
        String key = ex.getRequestHeaders().getFirst("x-api-key");
        if (key != null && !key.isBlank()) {
            md.put(API_KEY, key.trim());
        }
        return InferenceGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    private JsonNode body(HttpExchange ex) throws IOException {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            try {
                if (Long.parseLong(length.trim()) > maxBodyBytes) {
                    throw tooLarge();
                }
            } catch (NumberFormatException e) {
                throw OpenAiError.invalid(null, "bad Content-Length");
            }
        }
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBodyBytes + 1));
        }
        if (bytes.length > maxBodyBytes) {
            throw tooLarge();
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw OpenAiError.invalid(null, "the request body is not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw OpenAiError.invalid(null, "the request body must be a JSON object");
        }
        return node;
    }

    private OpenAiError tooLarge() {
        return new OpenAiError(413, "invalid_request_error", "request body larger than " + maxBodyBytes + " bytes",
                null, "request_too_large", 0);
    }

    /** Runs one generation through the gRPC path and answers with one JSON body or an SSE stream. */
    private void generate(HttpExchange ex, OpenAiRequests.Translated t, boolean chat, String requestId) throws IOException {
        String inputParam = chat ? "messages" : "prompt";
        Context.CancellableContext ctx = Context.current().withCancellation();
        running.add(ctx);
        Context previous = ctx.attach();
        try {
            Iterator<GenerateResponse> it = stub(ex).generate(t.request());
            try {
                it.hasNext(); // the first event, or the refusal, before any status line is sent
            } catch (StatusRuntimeException e) {
                throw OpenAiError.fromGrpc(e, inputParam);
            }
            Reply reply = new Reply(chat, t, "%s-%s".formatted(chat ? "chatcmpl" : "cmpl", requestId),
                    System.currentTimeMillis() / 1000, t.request().getModel());
            if (t.stream()) {
                stream(ex, it, reply, ctx, inputParam);
            } else {
                whole(ex, it, reply, inputParam);
            }
        } finally {
            ctx.detach(previous);
            ctx.cancel(null); // no-op once the call completed; cancels it (and frees its KV) otherwise
            running.remove(ctx);
        }
    }

    private void whole(HttpExchange ex, Iterator<GenerateResponse> it, Reply reply, String inputParam) throws IOException {
        StringBuilder text = new StringBuilder();
        try {
            while (it.hasNext()) {
                GenerateResponse r = it.next();
                if (r.hasDelta()) {
                    text.append(r.getDelta().getText());
                    reply.addLogprobs(r.getDelta());
                } else if (r.hasFinished()) {
                    List<ObjectNode> calls = reply.chat && !reply.t.toolNames().isEmpty()
                            ? ToolCalls.parse(text.toString(), reply.t.toolNames()) : List.of();
                    sendJson(ex, 200, reply.whole(text.toString(), calls, r.getFinished()));
                    return;
                }
            }
        } catch (StatusRuntimeException e) {
            throw OpenAiError.fromGrpc(e, inputParam);
        }
        throw new OpenAiError(500, "server_error", "the stream ended without a finish", null, null, 0);
    }

    private void stream(HttpExchange ex, Iterator<GenerateResponse> it, Reply reply, Context.CancellableContext ctx,
                        String inputParam) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        // with tools offered, output that may be a tool call is held back until it is clearly not one, or ends
        StringBuilder held = reply.chat && !reply.t.toolNames().isEmpty() ? new StringBuilder() : null;
        try {
            if (reply.chat) {
                event(out, reply.chunk("", null, null, true));
            }
            while (true) {
                GenerateResponse r;
                try {
                    if (!it.hasNext()) {
                        break;
                    }
                    r = it.next();
                } catch (StatusRuntimeException e) {
                    OpenAiError err = OpenAiError.fromGrpc(e, inputParam);
                    event(out, errorBody(err));
                    event(out, "[DONE]");
                    return;
                }
                if (r.hasDelta()) {
                    Delta d = r.getDelta();
                    if (held != null) {
                        held.append(d.getText());
                        reply.addLogprobs(d);
                        if (!ToolCalls.mayStart(held.toString())) {
                            event(out, reply.chunk(held.toString(), null, null, false));
                            held = null;
                        }
                    } else if (!d.getText().isEmpty() || d.getLogprobsCount() > 0) {
                        event(out, reply.chunk(d.getText(), d, null, false));
                    }
                } else if (r.hasFinished()) {
                    Finished f = r.getFinished();
                    String finish = finishReason(f.getReason());
                    if (held != null) {
                        List<ObjectNode> calls = ToolCalls.parse(held.toString(), reply.t.toolNames());
                        if (calls.isEmpty()) {
                            if (!held.isEmpty()) {
                                event(out, reply.chunk(held.toString(), null, null, false));
                            }
                        } else {
                            ObjectNode c = reply.chunk("", null, null, false);
                            ObjectNode delta = (ObjectNode) c.at("/choices/0/delta");
                            delta.remove("content");
                            delta.set("tool_calls", ToolCalls.indexed(calls));
                            event(out, c);
                            finish = "tool_calls";
                        }
                    }
                    event(out, reply.chunk("", null, finish, false));
                    if (reply.t.includeUsage()) {
                        ObjectNode u = reply.base(true);
                        u.set("choices", JSON.createArrayNode());
                        u.set("usage", usage(f));
                        event(out, u);
                    }
                    event(out, "[DONE]");
                    return;
                }
            }
        } catch (IOException gone) {
            // the client disconnected: cancel the call, which stops the sequence and frees its KV cache
            ctx.cancel(gone);
            LOG.info("request {}: HTTP client disconnected mid-stream; generation cancelled", reply.id);
        } finally {
            try {
                out.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    private static void event(OutputStream out, Object data) throws IOException {
        String s = data instanceof String str ? str : JSON.writeValueAsString(data);
        out.write(("data: " + s + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    static String finishReason(FinishReason r) {
        return switch (r) {
            case FINISH_REASON_LENGTH -> "length";
            default -> "stop";
        };
    }

    static ObjectNode usage(Finished f) {
        ObjectNode u = JSON.createObjectNode();
        int p = f.getUsage().getPromptTokens();
        int c = f.getUsage().getCompletionTokens();
        u.put("prompt_tokens", p).put("completion_tokens", c).put("total_tokens", p + c);
        u.putObject("prompt_tokens_details").put("cached_tokens", f.getUsage().getCachedTokens());
        return u;
    }

    /** Builds the response objects of one request, chat or completion, whole or streamed. */
    private static final class Reply {
        final boolean chat;
        final OpenAiRequests.Translated t;
        final String id;
        final long created;
        final String model;
        private final ArrayNode chatLogprobs = JSON.createArrayNode();
        private final ObjectNode completionLogprobs = JSON.createObjectNode();
        private int textOffset;

        Reply(boolean chat, OpenAiRequests.Translated t, String id, long created, String model) {
            this.chat = chat;
            this.t = t;
            this.id = id;
            this.created = created;
            this.model = model;
            completionLogprobs.putArray("tokens");
            completionLogprobs.putArray("token_logprobs");
            completionLogprobs.putArray("top_logprobs");
            completionLogprobs.putArray("text_offset");
        }

        ObjectNode base(boolean chunk) {
            return JSON.createObjectNode().put("id", id)
                    .put("object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion")
                    .put("created", created).put("model", model);
        }

        void addLogprobs(Delta d) {
            if (t.topLogprobs() < 0) {
                return;
            }
            for (TokenLogprob lp : d.getLogprobsList()) {
                if (chat) {
                    ObjectNode o = tokenNode(lp.getToken(), lp.getLogprob());
                    ArrayNode tops = o.putArray("top_logprobs");
                    for (int k = 0; k < Math.min(t.topLogprobs(), lp.getTopCount()); k++) {
                        TopLogprob top = lp.getTop(k);
                        tops.add(tokenNode(top.getToken(), top.getLogprob()));
                    }
                    chatLogprobs.add(o);
                } else {
                    ((ArrayNode) completionLogprobs.get("tokens")).add(lp.getToken());
                    ((ArrayNode) completionLogprobs.get("token_logprobs")).add(lp.getLogprob());
                    ObjectNode tops = JSON.createObjectNode();
                    for (int k = 0; k < Math.min(t.topLogprobs(), lp.getTopCount()); k++) {
                        tops.put(lp.getTop(k).getToken(), lp.getTop(k).getLogprob());
                    }
                    ((ArrayNode) completionLogprobs.get("top_logprobs")).add(tops);
                    ((ArrayNode) completionLogprobs.get("text_offset")).add(textOffset);
                    textOffset += lp.getToken().length();
                }
            }
        }

        private static ObjectNode tokenNode(String token, float logprob) {
            ObjectNode o = JSON.createObjectNode().put("token", token).put("logprob", logprob);
            ArrayNode bytes = o.putArray("bytes");
            for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
                bytes.add(b & 0xff);
            }
            return o;
        }

        /** The logprobs gathered since the last call (null when none were asked for), then starts afresh. */
        private ObjectNode takeLogprobs() {
            if (t.topLogprobs() < 0 || (chat ? chatLogprobs.isEmpty() : completionLogprobs.get("tokens").isEmpty())) {
                return null;
            }
            ObjectNode out;
            if (chat) {
                out = JSON.createObjectNode();
                out.set("content", chatLogprobs.deepCopy());
                chatLogprobs.removeAll();
            } else {
                out = completionLogprobs.deepCopy();
                completionLogprobs.fieldNames().forEachRemaining(n -> ((ArrayNode) completionLogprobs.get(n)).removeAll());
            }
            return out;
        }

        ObjectNode whole(String text, List<ObjectNode> toolCalls, Finished f) {
            ObjectNode o = base(false);
            ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
            if (chat) {
                ObjectNode message = choice.putObject("message").put("role", "assistant");
                if (toolCalls.isEmpty()) {
                    message.put("content", text);
                } else {
                    message.putNull("content");
                    message.putArray("tool_calls").addAll(toolCalls);
                }
                message.putNull("refusal");
            } else {
                choice.put("text", text);
            }
            choice.set("logprobs", takeLogprobs());
            choice.put("finish_reason", toolCalls.isEmpty() ? finishReason(f.getReason()) : "tool_calls");
            o.set("usage", usage(f));
            return o;
        }

        ObjectNode chunk(String text, Delta d, String finish, boolean first) {
            ObjectNode o = base(true);
            ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
            if (d != null) {
                addLogprobs(d);
            }
            if (chat) {
                ObjectNode delta = choice.putObject("delta");
                if (first) {
                    delta.put("role", "assistant");
                }
                if (finish == null) {
                    delta.put("content", text);
                }
            } else {
                choice.put("text", text);
            }
            choice.set("logprobs", finish != null ? null : takeLogprobs());
            if (finish == null) {
                choice.putNull("finish_reason");
            } else {
                choice.put("finish_reason", finish);
            }
            if (t.includeUsage()) {
                o.putNull("usage");
            }
            return o;
        }
    }

    private static ObjectNode errorBody(OpenAiError e) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode err = o.putObject("error").put("message", e.getMessage()).put("type", e.type);
        err.put("param", e.param);
        err.put("code", e.code);
        return o;
    }

    private static void sendError(HttpExchange ex, OpenAiError e) {
        if (ex.getResponseCode() != -1) {
            return; // headers are out (a stream): nothing more to say
        }
        if (e.retryAfterSeconds > 0) {
            ex.getResponseHeaders().set("Retry-After", String.valueOf(e.retryAfterSeconds));
        }
        try {
            sendJson(ex, e.status, errorBody(e));
        } catch (IOException gone) {
            LOG.debug("could not send error {}: {}", e.status, gone.toString());
        }
    }

    private static void sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static String requestId(HttpExchange ex) {
        String id = ex.getRequestHeaders().getFirst("x-request-id");
        return id != null && !id.isBlank() && id.length() <= 64 && id.matches("[A-Za-z0-9._:-]+") ? id : UUID.randomUUID().toString();
    }
}
