package dev.shardlight.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.InferenceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Refusals of the gRPC path as the HTTP door answers them, with statuses built here the way the
 * gateway's per-tenant limits send them: RESOURCE_EXHAUSTED with a {@code google.rpc.RetryInfo}
 * in its details becomes 429 with Retry-After rounded up; PERMISSION_DENIED becomes 403. The real
 * OpenAiHttpServer over a real socket, in front of an in-process gRPC service that refuses by model.
 */
class GrpcRefusalOverHttpTest {
    static Server grpc;
    static ManagedChannel channel;
    static OpenAiHttpServer http;
    static final List<String> countedHere = new CopyOnWriteArrayList<>();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    /** What h7t's rate limiter sends: RESOURCE_EXHAUSTED whose details carry RetryInfo. */
    static io.grpc.StatusRuntimeException rateLimited(long seconds, int nanos) {
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(Code.RESOURCE_EXHAUSTED_VALUE).setMessage("tenant t is over its 10 requests/s")
                .addDetails(Any.pack(RetryInfo.newBuilder()
                        .setRetryDelay(Duration.newBuilder().setSeconds(seconds).setNanos(nanos)).build()))
                .build());
    }

    @BeforeAll
    static void start() throws Exception {
        String name = "grpc-refusal-over-http";
        grpc = InProcessServerBuilder.forName(name).directExecutor().addService(new InferenceGrpc.InferenceImplBase() {
            @Override
            public void generate(GenerateRequest request, StreamObserver<GenerateResponse> observer) {
                observer.onError(switch (request.getModel()) {
                    case "limited" -> rateLimited(2, 300_000_000);
                    case "forbidden" -> Status.PERMISSION_DENIED.withDescription("tenant t may not use model forbidden")
                            .asRuntimeException();
                    default -> Status.RESOURCE_EXHAUSTED.withDescription("tenant t is over its token budget").asRuntimeException();
                });
            }
        }).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        http = OpenAiHttpServer.start("127.0.0.1", 0, 1 << 16, channel, () -> true, new OpenAiHttpServer.Admission() {
            @Override
            public String tenant(String apiKey) {
                return "t";
            }

            @Override
            public void refused(String model, String tenant, Status.Code code) {
                countedHere.add(model + "/" + code);
            }
        });
    }

    @AfterAll
    static void stop() throws Exception {
        if (http != null) {
            http.stop(0);
        }
        channel.shutdownNow();
        grpc.shutdownNow();
    }

    static HttpResponse<String> chat(String model, boolean stream) throws Exception {
        String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":" + stream + "}";
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http.port() + "/v1/chat/completions"))
                .header("Authorization", "Bearer k").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode error(HttpResponse<String> r) throws Exception {
        return OpenAiHttpServer.JSON.readTree(r.body()).get("error");
    }

    @Test
    void rateLimitWithRetryInfoIs429WithRetryAfterRoundedUp() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            HttpResponse<String> r = chat("limited", stream);
            assertEquals(429, r.statusCode(), r.body());
            assertEquals("3", r.headers().firstValue("Retry-After").orElse(null), "2.3 s rounds up to 3");
            JsonNode e = error(r);
            assertEquals("rate_limit_error", e.get("type").asText());
            assertEquals("rate_limit_exceeded", e.get("code").asText());
            assertEquals("tenant t is over its 10 requests/s", e.get("message").asText());
        }
    }

    @Test
    void rateLimitWithoutRetryInfoKeepsOneSecond() throws Exception {
        HttpResponse<String> r = chat("budget", false);
        assertEquals(429, r.statusCode(), r.body());
        assertEquals("1", r.headers().firstValue("Retry-After").orElse(null));
    }

    @Test
    void permissionDeniedIs403InOpenAiShape() throws Exception {
        HttpResponse<String> r = chat("forbidden", false);
        assertEquals(403, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Retry-After").isEmpty());
        JsonNode e = error(r);
        assertEquals("permission_error", e.get("type").asText());
        assertEquals("permission_denied", e.get("code").asText());
        assertEquals("tenant t may not use model forbidden", e.get("message").asText());
        assertTrue(e.has("param"));
    }

    @Test
    void refusalsOfTheGrpcServiceAreLeftToItsCount() throws Exception {
        countedHere.clear();
        chat("forbidden", false);
        chat("limited", true);
        assertFalse(countedHere.stream().anyMatch(c -> c.startsWith("forbidden") || c.startsWith("limited")), countedHere.toString());
        HttpResponse<String> bad = chat("forbidden\", \"n\": 3, \"x\":\"", false);
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals(List.of("forbidden/INVALID_ARGUMENT"), countedHere);
    }
}
