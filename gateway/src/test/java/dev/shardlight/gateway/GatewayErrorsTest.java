package dev.shardlight.gateway;

import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.SamplingParams;
import dev.shardlight.router.RouterView;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.shardlight.gateway.TestNodes.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every refusal and early end of a Generate call, through the real stack (tiny Gemma 3 fixture,
 * one replica with no queue). Long streams use prompt [2, 4, 5], which greedy decoding follows for
 * 250 tokens without meeting EOS; a client that reads nothing holds such a stream still (flow
 * control), which is how the replica is kept busy.
 */
class GatewayErrorsTest {
    static final int[] LONG_PROMPT = {2, 4, 5};
    static TestNodes.Started cluster;
    static ManagedChannel channel;
    static InferenceGrpc.InferenceBlockingStub stub;

    @BeforeAll
    static void start() throws Exception {
        cluster = TestNodes.start(TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 0)
                .replace(" }", ", max-batch = 1, step-tokens = 64 }")), ""));
        channel = cluster.channel();
        stub = InferenceGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        cluster.close();
    }

    @BeforeEach
    void replicaIsIdle() throws InterruptedException {
        await(() -> replica().status().load() == 0, "replica idle before the test");
    }

    static GenerateRequest.Builder tokens(int maxTokens, int... ids) {
        return TestNodes.tokens("tiny", maxTokens, ids);
    }

    static Status call(GenerateRequest r) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(r).forEachRemaining(x -> { }));
        return e.getStatus();
    }

    @Test
    void unknownModelIsNotFoundAndListsTheServedModels() {
        Status s = call(tokens(4, 2).setModel("gemma-9000").build());
        assertEquals(Status.Code.NOT_FOUND, s.getCode());
        assertEquals("model \"gemma-9000\" is not served here; served models: tiny", s.getDescription());
        assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
                () -> stub.getModel(GetModelRequest.newBuilder().setId("nope").build())).getStatus().getCode());
    }

    @Test
    void badSamplingParameterIsInvalidArgumentNamingTheField() {
        Status s = call(tokens(4, 2).setSampling(SamplingParams.newBuilder().setTopP(1.5f)).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("sampling.top_p = 1.5 must be in (0, 1]", s.getDescription());
        Status t = call(tokens(4, 2).setSampling(SamplingParams.newBuilder().setTemperature(-1)).build());
        assertTrue(t.getDescription().startsWith("sampling.temperature = -1.0"), t.getDescription());
    }

    @Test
    void logprobsTopNOutside0To20IsInvalidArgumentNamingTheField() {
        Status s = call(tokens(4, 2).setLogprobs(21).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("logprobs = 21 is outside 0..20", s.getDescription());
        // uint32 on the wire: a client's -1 arrives as 2^32 - 1
        assertEquals("logprobs = 4294967295 is outside 0..20", call(tokens(4, 2).setLogprobs(-1).build()).getDescription());
    }

    @Test
    void tokenOutsideTheVocabularyIsInvalidArgumentNamingItsIndex() {
        Status s = call(tokens(4, 2, 999).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("token_ids.ids[1] = 999 is outside the vocabulary of tiny (0..255)", s.getDescription());
    }

    @Test
    void missingInputAndEmptyTokensAreInvalidArgument() {
        assertEquals("input: set one of text, chat or token_ids",
                call(GenerateRequest.newBuilder().setModel("tiny").build()).getDescription());
        assertEquals("token_ids.ids: empty; at least one token (e.g. BOS) is needed", call(tokens(4).build()).getDescription());
    }

    @Test
    void promptPlusMaxTokensOverTheContextSaysBothNumbers() {
        Status s = call(tokens(250, 2, 3, 4, 5, 6, 7, 8).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("prompt (7 tokens) + max_tokens (250) = 257 exceeds the context length of tiny (256 tokens)",
                s.getDescription());
    }

    @Test
    void textInputWithoutATokenizerIsFailedPrecondition() {
        Status s = call(GenerateRequest.newBuilder().setModel("tiny").setText("hello").build());
        assertEquals(Status.Code.FAILED_PRECONDITION, s.getCode());
        assertEquals("text: model tiny is served without a tokenizer; send token_ids", s.getDescription());
    }

    @Test
    void aFullQueueIsResourceExhaustedAndCancellingTheSlowStreamFreesItsKvCache() throws Exception {
        StalledCall slow = StalledCall.start(channel, tokens(240, LONG_PROMPT).setRequestId("slow").build(), 60);
        try {
            await(() -> replica().status().inFlight() == 1 && replica().status().kvBytes() > 0, "slow stream running");

            Status s = call(tokens(4, 2).build());
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
            assertTrue(s.getDescription().startsWith("every replica of tiny has a full queue"), s.getDescription());

            Thread.sleep(200);
            assertEquals(1, replica().status().inFlight(), "a reader that takes nothing holds its stream (flow control)");
            assertTrue(slow.received.get() <= GenerateSession.CREDIT_WINDOW, "at most one credit window reached the client");
        } finally {
            slow.call.cancel("test cancels", null);
        }
        await(() -> replica().status().load() == 0 && replica().status().kvBytes() == 0, "cancelled stream freed its KV cache");
        assertEquals(Status.Code.CANCELLED, slow.end.get(5, TimeUnit.SECONDS).getCode());
    }

    @Test
    void anExpiredDeadlineEndsTheCallAndFreesTheReplica() throws Exception {
        StalledCall slow = StalledCall.start(channel, tokens(240, LONG_PROMPT).build(), 1);
        assertEquals(Status.Code.DEADLINE_EXCEEDED, slow.end.get(10, TimeUnit.SECONDS).getCode());
        await(() -> replica().status().load() == 0 && replica().status().kvBytes() == 0, "expired stream freed its KV cache");
        // The replica serves the next request normally.
        List<GenerateResponse> next = new java.util.ArrayList<>();
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(tokens(3, 2, 9).build()).forEachRemaining(next::add);
        assertTrue(next.get(next.size() - 1).hasFinished());
    }

    static RouterView.ReplicaState replica() {
        return cluster.node().view().model("tiny").orElseThrow().replicas().get(0);
    }

    /** A Generate call whose client asks for one message and then reads nothing more. */
    static final class StalledCall implements ClientResponseObserver<GenerateRequest, GenerateResponse> {
        final AtomicInteger received = new AtomicInteger();
        final CompletableFuture<Status> end = new CompletableFuture<>();
        ClientCallStreamObserver<GenerateRequest> call;

        static StalledCall start(io.grpc.Channel channel, GenerateRequest request, int deadlineSeconds) {
            StalledCall c = new StalledCall();
            InferenceGrpc.newStub(channel).withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS).generate(request, c);
            return c;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<GenerateRequest> requestStream) {
            call = requestStream;
            requestStream.disableAutoRequestWithInitial(1);
        }

        @Override
        public void onNext(GenerateResponse r) {
            received.addAndGet(r.getDelta().getTokenIdsCount());
        }

        @Override
        public void onError(Throwable t) {
            end.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            end.complete(Status.OK);
        }
    }
}
