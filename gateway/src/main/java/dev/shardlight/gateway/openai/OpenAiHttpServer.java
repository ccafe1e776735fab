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
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
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
    /** How long a stream waits for its first event (or refusal) before its 200 and headers go out. */
    static final long FIRST_EVENT_WAIT_MILLIS = 400;
    /** The longest a stream stays silent: then an SSE comment line, which clients ignore, probes the socket. */
    static final long KEEP_ALIVE_MILLIS = 250;
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.UTF_8);

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Channel channel;
    private final long maxBodyBytes;
    private final BooleanSupplier ready;
    private final Admission admission;
    private final long created = System.currentTimeMillis() / 1000;
    private final Set<Context.CancellableContext> running = ConcurrentHashMap.newKeySet();
    /** The model a running exchange's body names, for the refusal count (exchange attributes are per context, shared). */
    private final Map<HttpExchange, String> modelOf = new ConcurrentHashMap<>();

    private OpenAiHttpServer(HttpServer server, Channel channel, long maxBodyBytes, BooleanSupplier ready, Admission admission) {
        this.server = server;
        this.channel = channel;
        this.maxBodyBytes = maxBodyBytes;
        this.ready = ready;
        this.admission = admission;
    }

    /**
     * What the HTTP door asks of the gateway behind it: who a key belongs to (so every /v1/ request is
     * authenticated before its body is read, as OpenAI does), and counting the generation requests it
     * refuses itself, which never reach the gRPC service that counts all others.
     */
    public interface Admission {
        /** The tenant of an API key (null: none sent), or null when the key is refused. */
        String tenant(String apiKey);

        /** A generation request refused here; {@code code} is the gRPC status it stands for (metric label). */
        void refused(String model, String tenant, Status.Code code);
    }

    /**
     * @param port         0: any free port
     * @param maxBodyBytes larger request bodies get 413
     * @param ready        whether some model can serve (GET /ready)
     */
    public static OpenAiHttpServer start(String host, int port, long maxBodyBytes, Channel channel, BooleanSupplier ready,
                                         Admission admission) throws IOException {
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            // SSE chunks are small: no Nagle delay (read when the JDK server first loads its settings)
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 256);
        OpenAiHttpServer s = new OpenAiHttpServer(server, channel, maxBodyBytes, ready, admission);
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
            countRefusal(ex, e);
            sendError(ex, e);
        } catch (StatusRuntimeException e) {
            sendError(ex, OpenAiError.fromGrpc(e, "messages"));
        } catch (IOException e) {
            LOG.debug("HTTP client went away: {}", e.toString());
        } catch (RuntimeException | Error e) {
            LOG.error("HTTP request {} {} failed", ex.getRequestMethod(), ex.getRequestURI(), e);
            OpenAiError internal = new OpenAiError(500, "server_error", "internal error: " + e, null, null, 0);
            countRefusal(ex, internal);
            sendError(ex, internal);
        } finally {
            modelOf.remove(ex);
            ex.close();
        }
    }

    private void route(HttpExchange ex, String requestId) throws IOException {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        if (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        if (path.startsWith("/v1/") && admission.tenant(apiKey(ex)) == null) {
            throw new OpenAiError(401, "invalid_request_error", apiKey(ex) == null
                    ? "missing API key: send \"Authorization: Bearer KEY\" (or \"x-api-key: KEY\")" : "unknown API key",
                    null, "invalid_api_key", 0);
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
        return InferenceGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(credentials(ex)));
    }

    /** The caller's key headers as gRPC metadata: the gRPC path maps them to the same tenant. */
    private static Metadata credentials(HttpExchange ex) {
        Metadata md = new Metadata();
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth != null && !auth.isBlank()) {
            md.put(AUTHORIZATION, auth.trim());
        }
        String key = ex.getRequestHeaders().getFirst("x-api-key");
        if (key != null && !key.isBlank()) {
            md.put(API_KEY, key.trim());
        }
        return md;
    }

    /** The API key as the gRPC door reads it: x-api-key, else the Bearer token; null when neither is sent. */
    private static String apiKey(HttpExchange ex) {
        String key = ex.getRequestHeaders().getFirst("x-api-key");
        if (key != null && !key.isBlank()) {
            return key.trim();
        }
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) && !auth.substring(7).isBlank()) {
            return auth.substring(7).trim();
        }
        return null;
    }

    /**
     * Counts a refused generation request in shardlight_requests_total unless the gRPC service did:
     * it counts what it refuses or serves, not what this door refuses before calling it.
     */
    private void countRefusal(HttpExchange ex, OpenAiError e) {
        String path = ex.getRequestURI().getPath().replaceFirst("/$", "");
        boolean generation = path.equals("/v1/chat/completions") || path.equals("/v1/completions");
        if (!generation || e.countedAs != null) {
            return;
        }
        String tenant = admission.tenant(apiKey(ex));
        admission.refused(modelOf.getOrDefault(ex, ""), tenant == null ? "unauthenticated" : tenant, e.grpcEquivalent());
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
        if (node.path("model").isTextual()) {
            modelOf.put(ex, node.get("model").asText());
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
        GenerateCall call = new GenerateCall();
        try {
            ctx.run(() -> InferenceGrpc.newStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
                    credentials(ex))).generate(t.request(), call));
            Object first;
            try {
                // A refusal (validation, model, limits) comes at once and gets its own HTTP status. A stream
                // waits only briefly: past that its headers go out so keep-alives can find a vanished client.
                first = next(call, t.stream() ? FIRST_EVENT_WAIT_MILLIS : -1);
            } catch (StatusRuntimeException e) {
                throw OpenAiError.fromGrpc(e, inputParam);
            }
            OpenAiReply reply = new OpenAiReply(chat, t, "%s-%s".formatted(chat ? "chatcmpl" : "cmpl", requestId),
                    System.currentTimeMillis() / 1000, t.request().getModel());
            if (t.stream()) {
                stream(ex, call, first, reply, inputParam);
            } else {
                whole(ex, call, first, reply, inputParam);
            }
        } finally {
            ctx.cancel(null); // no-op once the call completed; cancels it (and frees its KV) otherwise
            running.remove(ctx);
        }
    }

    /** {@link GenerateCall#next}, with the server's shutdown (an interrupt) as an I/O failure of this exchange. */
    private static Object next(GenerateCall call, long timeoutMillis) throws InterruptedIOException {
        try {
            return call.next(timeoutMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("HTTP server stopping");
        }
    }

    /**
     * A whole (non-streamed) answer. Its client's disconnect is not noticed: the JDK server offers no
     * way to see a closed socket without writing to it, and nothing may be written before the JSON
     * body. Such a request runs to its end, which max_tokens and the context length bound; clients
     * that need to stop early stream.
     */
    private void whole(HttpExchange ex, GenerateCall call, Object first, OpenAiReply reply, String inputParam) throws IOException {
        StringBuilder text = new StringBuilder();
        try {
            for (Object e = first; e != GenerateCall.END; e = next(call, -1)) {
                GenerateResponse r = (GenerateResponse) e;
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
        throw new OpenAiError(500, "server_error", "the stream ended without a finish", null, null, 0)
                .countedBy(io.grpc.Status.Code.OK);
    }

    /**
     * An SSE stream. While no event comes (queued, prefill, a held-back tool call) a comment line is
     * written every {@link #KEEP_ALIVE_MILLIS}: a client that closed its socket makes the second such
     * write fail (its kernel answers the first with a reset), and the call is cancelled within about a
     * second, before it would otherwise produce anything.
     */
    private void stream(HttpExchange ex, GenerateCall call, Object first, OpenAiReply reply, String inputParam) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        OutputStream out = null;
        // with tools offered, output that may be a tool call is held back until it is clearly not one, or ends
        StringBuilder held = reply.chat && !reply.t.toolNames().isEmpty() ? new StringBuilder() : null;
        try {
            ex.sendResponseHeaders(200, 0);
            out = ex.getResponseBody();
            if (reply.chat) {
                event(out, reply.chunk("", null, null, true));
            } else {
                out.flush();
            }
            for (Object e = first; e != GenerateCall.END; ) {
                if (e == null) {
                    out.write(KEEP_ALIVE);
                    out.flush();
                } else if (e instanceof GenerateResponse r && r.hasDelta()) {
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
                } else if (e instanceof GenerateResponse r && r.hasFinished()) {
                    finish(out, reply, r.getFinished(), held);
                    return;
                }
                try {
                    e = next(call, KEEP_ALIVE_MILLIS);
                } catch (StatusRuntimeException failed) {
                    event(out, errorBody(OpenAiError.fromGrpc(failed, inputParam)));
                    event(out, "[DONE]");
                    return;
                }
            }
        } catch (IOException gone) {
            // the client disconnected: cancel the call, which stops the sequence and frees its KV cache
            call.cancel("HTTP client disconnected", gone);
            LOG.info("request {}: HTTP client disconnected mid-stream; generation cancelled", reply.id);
        } finally {
            if (out != null) {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // already gone
                }
            }
        }
    }

    private static void finish(OutputStream out, OpenAiReply reply, Finished f, StringBuilder held) throws IOException {
        String finish = OpenAiReply.finishReason(f.getReason());
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
            u.set("usage", OpenAiReply.usage(f));
            event(out, u);
        }
        event(out, "[DONE]");
    }

    private static void event(OutputStream out, Object data) throws IOException {
        String s = data instanceof String str ? str : JSON.writeValueAsString(data);
        out.write(("data: " + s + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
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
        if (e.status == 413) {
            // the unread body is still on the wire: this connection cannot carry another request
            ex.getResponseHeaders().set("Connection", "close");
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
