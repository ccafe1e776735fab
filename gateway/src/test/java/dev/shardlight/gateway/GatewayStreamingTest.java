package dev.shardlight.gateway;

import dev.shardlight.proto.v1.FinishReason;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.ListModelsRequest;
import dev.shardlight.proto.v1.Model;
import dev.shardlight.proto.v1.ReplicaState;
import dev.shardlight.proto.v1.SamplingParams;
import dev.shardlight.proto.v1.TokenLogprob;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The happy path through the real stack in one JVM: gRPC (in-process) → session actor → sharded
 * replica → engine on the tiny random-weight Gemma 3 fixture, plus discovery and health.
 */
class GatewayStreamingTest {
    static TestNodes.Started cluster;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        cluster = TestNodes.start(TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 2)), ""));
        channel = cluster.channel();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        cluster.close();
    }

    static GenerateRequest.Builder tokens(int maxTokens, int... ids) {
        return TestNodes.tokens("tiny", maxTokens, ids);
    }

    @Test
    void streamsTokensFromTokenIdsThenAFinishedMessageWithUsage() {
        var stub = InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        List<Integer> streamed = new ArrayList<>();
        GenerateResponse last = null;
        for (Iterator<GenerateResponse> it = stub.generate(tokens(12, 2, 10, 20, 30).setRequestId("happy-1").build()); it.hasNext(); ) {
            last = it.next();
            if (last.hasDelta()) {
                streamed.addAll(last.getDelta().getTokenIdsList());
            }
        }
        assertTrue(last != null && last.hasFinished(), "the stream ends with a finished message");
        var f = last.getFinished();
        assertEquals("tiny", f.getModel());
        assertEquals("tiny#0", f.getReplica());
        assertEquals("happy-1", f.getRequestId());
        assertEquals(4, f.getUsage().getPromptTokens());
        assertEquals(streamed.size(), f.getUsage().getCompletionTokens());
        assertTrue(streamed.size() >= 1 && streamed.size() <= 12, "between 1 and max_tokens tokens: " + streamed);
        if (f.getReason() == FinishReason.FINISH_REASON_LENGTH) {
            assertEquals(12, streamed.size());
        } else {
            assertEquals(FinishReason.FINISH_REASON_STOP, f.getReason());
            assertEquals(1, (int) streamed.get(streamed.size() - 1), "stopped on the model's EOS id");
        }
    }

    @Test
    void greedyStreamsEqualTheEngineRunDirectly() throws Exception {
        var stub = InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        List<Integer> viaCluster = new ArrayList<>();
        stub.generate(tokens(10, 2, 7, 7, 9).setSampling(SamplingParams.newBuilder().setTemperature(0)).build())
                .forEachRemaining(r -> viaCluster.addAll(r.getDelta().getTokenIdsList()));
        List<Integer> direct = new ArrayList<>();
        try (var engine = dev.shardlight.worker.EngineReplica.open(new dev.shardlight.worker.ModelSpec("d",
                TestNodes.tinyGemma(), 1, 256, 1 << 20, 0, 1))) {
            engine.generate(new int[] {2, 7, 7, 9}, 10, dev.shardlight.engine.runtime.SamplingParams.GREEDY, new int[0],
                    direct::add, () -> false);
        }
        assertEquals(direct, viaCluster);
    }

    @Test
    void greedyLogprobsPickTheTopAlternativeAndEqualTheEngineRunDirectly() throws Exception {
        int topN = 5;
        int[] prompt = {2, 7, 7, 9};
        List<Integer> ids = new ArrayList<>();
        List<TokenLogprob> viaCluster = new ArrayList<>();
        InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .generate(tokens(8, prompt).setLogprobs(topN).setSampling(SamplingParams.newBuilder().setTemperature(0)).build())
                .forEachRemaining(r -> {
                    ids.addAll(r.getDelta().getTokenIdsList());
                    viaCluster.addAll(r.getDelta().getLogprobsList());
                    assertEquals(r.getDelta().getTokenIdsCount(), r.getDelta().getLogprobsCount(), "one logprob per token id");
                });
        assertTrue(!ids.isEmpty());
        assertEquals(ids.size(), viaCluster.size());
        for (int i = 0; i < ids.size(); i++) {
            TokenLogprob lp = viaCluster.get(i);
            assertEquals((int) ids.get(i), lp.getTokenId());
            assertEquals(topN, lp.getTopCount());
            assertEquals(lp.getTokenId(), lp.getTop(0).getTokenId(), "greedy picks the most likely token");
            assertEquals(lp.getLogprob(), lp.getTop(0).getLogprob());
            assertTrue(lp.getLogprob() <= 0, "a log-probability is <= 0: " + lp.getLogprob());
            for (int k = 1; k < topN; k++) {
                assertTrue(lp.getTop(k).getLogprob() <= lp.getTop(k - 1).getLogprob(), "alternatives most likely first");
            }
        }

        List<dev.shardlight.engine.runtime.TokenLogprobs> direct = new ArrayList<>();
        try (var engine = dev.shardlight.worker.EngineReplica.open(new dev.shardlight.worker.ModelSpec("d",
                TestNodes.tinyGemma(), 1, 256, 1 << 20, 0, 1))) {
            engine.generate(prompt, 8, dev.shardlight.engine.runtime.SamplingParams.GREEDY, new int[0], topN,
                    (token, lp) -> direct.add(lp), () -> false);
        }
        assertEquals(direct.size(), viaCluster.size());
        for (int i = 0; i < direct.size(); i++) {
            var d = direct.get(i);
            var c = viaCluster.get(i);
            assertEquals(d.token(), c.getTokenId());
            assertEquals(d.logprob(), c.getLogprob(), 1e-6f, "token " + i);
            for (int k = 0; k < topN; k++) {
                assertEquals(d.topIds()[k], c.getTop(k).getTokenId(), "token " + i + " alternative " + k);
                assertEquals(d.topLogprobs()[k], c.getTop(k).getLogprob(), 1e-6f, "token " + i + " alternative " + k);
            }
        }
    }

    @Test
    void withoutLogprobsDeltasCarryNone() {
        InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).generate(tokens(3, 2, 9).build())
                .forEachRemaining(r -> assertEquals(0, r.getDelta().getLogprobsCount()));
    }

    @Test
    void listModelsAndGetModelDescribeTheModelAndItsReadyReplica() {
        var stub = InferenceGrpc.newBlockingStub(channel);
        var models = stub.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
        assertEquals(1, models.size());
        Model m = stub.getModel(GetModelRequest.newBuilder().setId("tiny").build());
        assertEquals("tiny", m.getId());
        assertEquals("gemma3", m.getArchitecture());
        assertEquals(256, m.getContextLength());
        assertEquals(256, m.getVocabSize());
        assertEquals(1, m.getReplicasCount());
        assertEquals(ReplicaState.REPLICA_STATE_READY, m.getReplicas(0).getState());
        assertTrue(m.getReplicas(0).getNode().startsWith("127.0.0.1:"), m.getReplicas(0).getNode());
    }

    @Test
    void healthIsServingOverallAndForTheInferenceService() throws InterruptedException {
        var health = HealthGrpc.newBlockingStub(channel);
        // the gateway refreshes its health from the router's view every 250 ms
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (health.check(HealthCheckRequest.newBuilder().setService("").build()).getStatus()
                != HealthCheckResponse.ServingStatus.SERVING && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertEquals(HealthCheckResponse.ServingStatus.SERVING,
                health.check(HealthCheckRequest.newBuilder().setService("").build()).getStatus());
        assertEquals(HealthCheckResponse.ServingStatus.SERVING,
                health.check(HealthCheckRequest.newBuilder().setService(InferenceGrpc.SERVICE_NAME).build()).getStatus());
    }

    @Test
    void reflectionListsTheInferenceHealthAndReflectionServices() throws Exception {
        CompletableFuture<ServerReflectionResponse> reply = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(channel).serverReflectionInfo(new StreamObserver<>() {
            @Override
            public void onNext(ServerReflectionResponse r) {
                reply.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                reply.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        req.onCompleted();
        List<String> names = reply.get(10, TimeUnit.SECONDS).getListServicesResponse().getServiceList().stream()
                .map(s -> s.getName()).toList();
        assertTrue(names.containsAll(List.of("shardlight.v1.Inference", "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection")), names.toString());
    }
}
