package dev.shardlight.gateway;

import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.Model;
import dev.shardlight.proto.v1.ReplicaState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replica choice by load, a model that fails to load, and the metrics endpoint, on one node
 * serving "tiny" (two replicas) and "broken" (a file that is not a model).
 */
class RoutingAndFailuresTest {
    static TestNodes.Started cluster;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        Path broken = Files.createTempFile("broken", ".gguf");
        Files.writeString(broken, "this is not a GGUF file");
        broken.toFile().deleteOnExit();
        cluster = TestNodes.start(TestNodes.config(List.of(
                        TestNodes.model("tiny", TestNodes.tinyGemma(), 2, 256, 4),
                        TestNodes.model("broken", broken.toString(), 1, 256, 4)), "shardlight.metrics.port = 0"),
                dev.shardlight.worker.EngineReplica::open, PromptCodec.Registry.none(), true);
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
    void requestsGoToTheLeastLoadedReplicaNotRoundRobin() throws Exception {
        TestNodes.await(() -> cluster.node().view().model("tiny").orElseThrow().replicas().stream()
                .allMatch(r -> r.status() != null && r.status().inFlight() == 0), "both replicas idle");
        GatewayErrorsTest.StalledCall busy = GatewayErrorsTest.StalledCall.start(channel,
                tokens(240, GatewayErrorsTest.LONG_PROMPT).build(), 60);
        try {
            String busyReplica = awaitBusyReplica();
            var stub = InferenceGrpc.newBlockingStub(channel);
            List<String> servedBy = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                GenerateResponse last = null;
                for (var it = stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(tokens(4, 2, 9).build()); it.hasNext(); ) {
                    last = it.next();
                }
                servedBy.add(last.getFinished().getReplica());
            }
            String idle = busyReplica.equals("tiny#0") ? "tiny#1" : "tiny#0";
            assertEquals(List.of(idle, idle, idle, idle, idle, idle), servedBy, "the busy replica " + busyReplica + " gets none");
        } finally {
            busy.call.cancel("done", null);
        }
    }

    private static String awaitBusyReplica() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end) {
            for (var r : cluster.node().view().model("tiny").orElseThrow().replicas()) {
                if (r.status() != null && r.status().inFlight() == 1) {
                    return r.replicaId();
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no replica became busy");
    }

    @Test
    void aModelThatFailsToLoadIsMarkedFailedAndTheNodeServesTheOthers() throws InterruptedException {
        var stub = InferenceGrpc.newBlockingStub(channel);
        Model broken = stub.getModel(GetModelRequest.newBuilder().setId("broken").build());
        assertEquals(ReplicaState.REPLICA_STATE_FAILED, broken.getReplicas(0).getState());
        assertTrue(!broken.getReplicas(0).getMessage().isEmpty(), "the failure says why");

        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                .generate(tokens(4, 2).setModel("broken").build()).forEachRemaining(r -> { }));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("all 1 replicas of broken failed to load ("),
                e.getStatus().getDescription());

        List<GenerateResponse> tiny = new ArrayList<>();
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).generate(tokens(3, 2, 9).build()).forEachRemaining(tiny::add);
        assertTrue(tiny.get(tiny.size() - 1).hasFinished(), "tiny still serves");
        // The node re-reads its health every 250 ms: a replica that just became ready (as tiny's may
        // have, this being the first test) shows in the health check by the next poll.
        var health = HealthGrpc.newBlockingStub(channel);
        TestNodes.await(() -> health.check(HealthCheckRequest.newBuilder().setService("").build()).getStatus()
                == HealthCheckResponse.ServingStatus.SERVING, "health SERVING");
    }

    @Test
    void metricsEndpointExposesRequestsLatenciesTokensReplicasAndTheJvm() throws Exception {
        InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).generate(tokens(5, 2, 9).build())
                .forEachRemaining(r -> { });
        String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + cluster.node().metricsPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        for (String expected : List.of(
                "shardlight_requests_total{model=\"tiny\",status=\"OK\",tenant=\"anonymous\"}",
                "shardlight_time_to_first_token_seconds_count{model=\"tiny\"}",
                "shardlight_inter_token_latency_seconds_bucket{model=\"tiny\",le=\"0.005\"}",
                "shardlight_prompt_tokens_total{model=\"tiny\",tenant=\"anonymous\"}",
                "shardlight_completion_tokens_total{model=\"tiny\",tenant=\"anonymous\"}",
                "shardlight_replica_queue_depth{model=\"tiny\"",
                "shardlight_replica_in_flight_requests{model=\"tiny\"",
                "shardlight_replica_info{model=\"broken\",node=\"127.0.0.1:",
                "state=\"failed\"",
                "jvm_memory_used_bytes")) {
            assertTrue(text.contains(expected), "metrics contain " + expected);
        }
    }
}
