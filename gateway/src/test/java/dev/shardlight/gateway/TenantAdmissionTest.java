package dev.shardlight.gateway;

import com.google.rpc.RetryInfo;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.ListModelsRequest;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tenant admission through the real path (in-process gRPC → Tenants → InferenceService → replica
 * of the tiny Gemma 3 fixture): every refusal with its status, message and RetryInfo, the rate
 * limits with small numbers, and a stream slot given back on every way a stream ends. Model
 * "busy" has one replica and no queue, so one held stream fills it.
 */
class TenantAdmissionTest {
    static final int[] LONG_PROMPT = {2, 4, 5};
    static TestNodes.Started cluster;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        cluster = TestNodes.start(TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 8),
                TestNodes.model("busy", TestNodes.tinyGemma(), 1, 256, 0).replace(" }", ", max-batch = 1 }")), """
                shardlight.metrics.port = 0
                shardlight.tenants {
                  free { keys = [ { id = main, key = "free-key-0123456789" } ] }
                  limited { allowed-models = [tiny], max-tokens-per-request = 8, keys = [ { id = main, key = "limited-key-0123456789" } ] }
                  rpm { requests-per-minute = 2, keys = [ { id = main, key = "rpm-key-0123456789ab" } ] }
                  tpm { tokens-per-minute = 40, keys = [ { id = main, key = "tpm-key-0123456789ab" } ] }
                  solo { max-concurrent-streams = 1, keys = [ { id = main, key = "solo-key-0123456789a" } ] }
                  keyed { keys = [ { id = slow, key = "keyed-slow-0123456789", requests-per-minute = 1 },
                                   { id = fast, key = "keyed-fast-0123456789" } ] }
                }
                """));
        channel = cluster.channel();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        cluster.close();
    }

    static Channel as(String key) {
        return TenantAdmissionTestSupport.as(channel, key);
    }

    static InferenceGrpc.InferenceBlockingStub stub(String key) {
        return InferenceGrpc.newBlockingStub(key == null ? channel : as(key)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    static List<GenerateResponse> generate(String key, GenerateRequest r) {
        List<GenerateResponse> out = new ArrayList<>();
        stub(key).generate(r).forEachRemaining(out::add);
        return out;
    }

    static GatewayErrorsTest.StalledCall held(String key, GenerateRequest r, int deadlineSeconds) throws InterruptedException {
        GatewayErrorsTest.StalledCall c = GatewayErrorsTest.StalledCall.start(as(key), r, deadlineSeconds);
        TestNodes.await(() -> c.received.get() > 0 || c.end.isDone(), "the held stream's first tokens");
        return c;
    }

    static Status refusal(String key, GenerateRequest r) {
        return assertThrows(StatusRuntimeException.class, () -> generate(key, r)).getStatus();
    }

    static long retryMillis(String key, GenerateRequest r, String expectedPrefix) throws Exception {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> generate(key, r));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(expectedPrefix), e.getStatus().getDescription());
        var details = StatusProto.fromThrowable(e).getDetailsList();
        assertEquals(1, details.size(), "one RetryInfo detail");
        var d = details.get(0).unpack(RetryInfo.class).getRetryDelay();
        return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
    }

    static dev.shardlight.proto.v1.Finished finished(List<GenerateResponse> responses) {
        GenerateResponse last = responses.get(responses.size() - 1);
        assertTrue(last.hasFinished(), "ends with Finished");
        return last.getFinished();
    }

    @Test
    void aMissingUnknownOrWrongKeyIsUnauthenticated() {
        GenerateRequest r = TestNodes.tokens("tiny", 2, 2).build();
        Status missing = refusal(null, r);
        assertEquals(Status.Code.UNAUTHENTICATED, missing.getCode());
        assertEquals("missing API key: send metadata \"x-api-key: KEY\" or \"authorization: Bearer KEY\"", missing.getDescription());
        Status unknown = refusal("free-key-012345678", r);
        assertEquals(Status.Code.UNAUTHENTICATED, unknown.getCode());
        assertEquals("unknown API key", unknown.getDescription());
        assertEquals(Status.Code.UNAUTHENTICATED, assertThrows(StatusRuntimeException.class,
                () -> InferenceGrpc.newBlockingStub(channel).listModels(ListModelsRequest.getDefaultInstance())).getStatus().getCode());
        io.grpc.Metadata bearer = new io.grpc.Metadata();
        bearer.put(Tenants.AUTHORIZATION, "Bearer free-key-0123456789");
        assertEquals(2, InferenceGrpc.newBlockingStub(channel).withInterceptors(
                io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(bearer)).listModels(ListModelsRequest.getDefaultInstance())
                .getModelsCount(), "a bearer token works as well as x-api-key");
    }

    @Test
    void aModelTheTenantMayNotUseIsPermissionDenied() throws Exception {
        Status s = refusal("limited-key-0123456789", TestNodes.tokens("busy", 2, 2).build());
        assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
        assertEquals("tenant limited may not use model \"busy\"; allowed: tiny", s.getDescription());
        assertTrue(scrape().contains("shardlight_admission_refusals_total{limit=\"allowed-models\",tenant=\"limited\"} "), scrape());
    }

    @Test
    void maxTokensAboveTheTenantsBoundIsInvalidArgumentAndLeavingItAtZeroGetsTheBound() {
        Status s = refusal("limited-key-0123456789", TestNodes.tokens("tiny", 9, 2).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("max_tokens = 9 exceeds the max-tokens-per-request limit of tenant limited (8)", s.getDescription());
        var f = finished(generate("limited-key-0123456789", TestNodes.tokens("tiny", 0, LONG_PROMPT).build()));
        assertEquals(dev.shardlight.proto.v1.FinishReason.FINISH_REASON_LENGTH, f.getReason());
        assertEquals(8, f.getUsage().getCompletionTokens());
    }

    @Test
    void requestsPerMinuteRefusesTheThirdWithRetryInfo() throws Exception {
        GenerateRequest r = TestNodes.tokens("tiny", 2, 2).build();
        generate("rpm-key-0123456789ab", r);
        generate("rpm-key-0123456789ab", r);
        long retry = retryMillis("rpm-key-0123456789ab", r, "tenant rpm: requests-per-minute limit (2) reached; retry in ");
        assertTrue(retry > 20_000 && retry <= 30_000, "one request per 30 s comes back: " + retry + " ms");
    }

    @Test
    void aKeysOwnLimitRefusesThatKeyWhileTheTenantsOtherKeyGoesOn() throws Exception {
        GenerateRequest r = TestNodes.tokens("tiny", 2, 2).build();
        generate("keyed-slow-0123456789", r);
        long retry = retryMillis("keyed-slow-0123456789", r, "API key slow of tenant keyed: requests-per-minute limit (1) reached");
        assertTrue(retry > 50_000 && retry <= 60_000, retry + " ms");
        generate("keyed-fast-0123456789", r);
        generate("keyed-fast-0123456789", r);
    }

    @Test
    void tokensPerMinuteChargesMaxTokensAndRefundsWhatWasNotGenerated() throws Exception {
        String key = "tpm-key-0123456789ab";
        Status never = refusal(key, TestNodes.tokens("tiny", 38, LONG_PROMPT).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, never.getCode());
        assertEquals("prompt (3 tokens) + max_tokens (38) = 41 exceeds the tokens-per-minute limit of tenant tpm (40), "
                + "so it can never be admitted; lower max_tokens", never.getDescription());

        int first = finishedTokens(generate("free-key-0123456789", TestNodes.tokens("tiny", 1, LONG_PROMPT).build())).get(0);
        // charged 3 + 30 = 33, stops after its first token: 4 served, 29 refunded
        var early = finished(generate(key, TestNodes.tokens("tiny", 30, LONG_PROMPT).addStopTokenIds(first).build()));
        assertEquals(1, early.getUsage().getCompletionTokens());
        // 36 left: 33 fit only because of the refund; this one runs its 30 tokens
        var full = finished(generate(key, TestNodes.tokens("tiny", 30, LONG_PROMPT).build()));
        assertEquals(30, full.getUsage().getCompletionTokens());
        long retry = retryMillis(key, TestNodes.tokens("tiny", 30, LONG_PROMPT).build(),
                "tenant tpm: tokens-per-minute limit (40) reached; retry in ");
        assertTrue(retry > 35_000 && retry <= 45_000, "3 left, 33 needed at 40 per minute: about 45 s, was " + retry + " ms");
    }

    static List<Integer> finishedTokens(List<GenerateResponse> responses) {
        List<Integer> ids = new ArrayList<>();
        responses.forEach(r -> ids.addAll(r.getDelta().getTokenIdsList()));
        return ids;
    }

    @Test
    void aStreamSlotIsGivenBackWhenTheStreamFinishesFailsIsCancelledOrTimesOut() throws Exception {
        String solo = "solo-key-0123456789a";
        GenerateRequest quick = TestNodes.tokens("tiny", 2, 2).build();
        // finishes
        generate(solo, quick);
        generate(solo, quick);

        // cancelled: while it is held a second stream is refused, naming the limit
        GatewayErrorsTest.StalledCall held = held(solo, TestNodes.tokens("tiny", 200, LONG_PROMPT).build(), 60);
        long retry = retryMillis(solo, quick, "tenant solo: max-concurrent-streams limit (1) reached, 1 streams open");
        assertEquals(1000, retry);
        held.call.cancel("test cancels", null);
        admittedSoon(solo, quick);

        // deadline exceeded
        GatewayErrorsTest.StalledCall timed = GatewayErrorsTest.StalledCall.start(as(solo),
                TestNodes.tokens("tiny", 200, LONG_PROMPT).build(), 1);
        assertEquals(Status.Code.DEADLINE_EXCEEDED, timed.end.get(10, TimeUnit.SECONDS).getCode());
        admittedSoon(solo, quick);

        // failed after admission: "busy" is full (another tenant holds its only slot)
        GatewayErrorsTest.StalledCall blocker = held("free-key-0123456789", TestNodes.tokens("busy", 200, LONG_PROMPT).build(), 60);
        try {
            Status full = refusal(solo, TestNodes.tokens("busy", 2, 2).build());
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getCode());
            assertTrue(full.getDescription().startsWith("every replica of busy has a full queue"), full.getDescription());
            admittedSoon(solo, quick);
        } finally {
            blocker.call.cancel("test ends", null);
        }
    }

    /** The stream slot comes back as the session ends, a moment after the client saw the end. */
    static void admittedSoon(String key, GenerateRequest r) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            try {
                finished(generate(key, r));
                return;
            } catch (StatusRuntimeException e) {
                assertTrue(e.getStatus().getDescription().contains("max-concurrent-streams") && System.nanoTime() < end,
                        "stream slot not given back: " + e.getStatus());
                Thread.sleep(20);
            }
        }
    }

    static String scrape() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + cluster.node().metricsPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
