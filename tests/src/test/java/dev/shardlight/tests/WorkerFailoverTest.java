package dev.shardlight.tests;

import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.Model;
import dev.shardlight.proto.v1.Replica;
import dev.shardlight.proto.v1.ReplicaState;
import dev.shardlight.proto.v1.TokenIds;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Three `shardlight node` processes on loopback: a gateway+router on 127.0.0.1 and two workers on
 * 127.0.0.2 and 127.0.0.3, serving a tiny Gemma 3 and a tiny Llama 3.2 (two replicas each, spread
 * one per worker). Concurrent streams run while one worker is SIGKILLed; every call must end with
 * a clear status within its deadline, and the lost replicas must come back on the survivor.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class WorkerFailoverTest {
    static final int CALL_DEADLINE_SECONDS = 20;
    static NodeProcess gateway;
    static NodeProcess worker1;
    static NodeProcess worker2;
    static ManagedChannel channel;

    @BeforeAll
    static void startCluster() throws Exception {
        Path config = Path.of("target", "failover-cluster.conf");
        Files.writeString(config, """
                shardlight.models = [
                  { id = "gemma", path = "%s", replicas = 2, context-length = 256, kv-budget-mb = 8, queue-capacity = 32 },
                  { id = "llama", path = "%s", replicas = 2, context-length = 256, kv-budget-mb = 8, queue-capacity = 32 }
                ]
                shardlight.router.poll-interval = 200ms
                shardlight.gateway.admit-timeout = 2s
                # Place replicas only once both workers are up, so they start spread.
                pekko.cluster.role.worker.min-nr-of-members = 2
                pekko.cluster.split-brain-resolver.stable-after = 3s
                """.formatted(model("gemma3-tiny-q8_0.gguf"), model("llama-tiny-q8_0.gguf")));
        String conf = config.toAbsolutePath().toString();
        int grpcPort = NodeProcess.freePort("127.0.0.1");
        gateway = NodeProcess.start("gateway", "127.0.0.1", List.of("--roles", "gateway,router", "--seed-nodes", "",
                "--grpc-port", String.valueOf(grpcPort), "--config", conf));
        String seed = gateway.address();
        // Each worker holds every replica if it must (4 x ~8.4 MB < 64 MB): that is how they come back.
        worker1 = NodeProcess.start("worker1", "127.0.0.2", List.of("--roles", "worker", "--seed-nodes", seed,
                "--memory-mb", "64", "--config", conf));
        worker2 = NodeProcess.start("worker2", "127.0.0.3", List.of("--roles", "worker", "--seed-nodes", seed,
                "--memory-mb", "64", "--config", conf));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
        awaitReplicas(m -> m.getReplicasList().stream().allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_READY)
                && nodes(m).size() == 2, 120, "every replica ready, each model spread over both workers");
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        for (NodeProcess n : new NodeProcess[] {worker2, worker1, gateway}) {
            if (n != null) {
                n.close();
            }
        }
    }

    @Test
    @org.junit.jupiter.api.Order(1)
    void measuresOverheadThroughTheGatewayNodeToAWorkerNode() throws Exception {
        Overhead.measure("3 JVMs, gateway on another node than the replica", channel, "gemma", model("gemma3-tiny-q8_0.gguf"),
                new int[] {2, 4, 5}, 32, 20, 60);
    }

    @Test
    @org.junit.jupiter.api.Order(2)
    void killingAWorkerMidLoadEndsEveryCallClearlyAndItsReplicasComeBackOnTheSurvivor() throws Exception {
        Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
        List<Long> overdue = Collections.synchronizedList(new ArrayList<>());
        Set<String> servedAfterKill = ConcurrentHashMap.newKeySet();
        long killAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        long loadEnd = killAt + TimeUnit.SECONDS.toNanos(16);
        AtomicInteger issued = new AtomicInteger();
        ExecutorService clients = Executors.newFixedThreadPool(6);
        for (int c = 0; c < 6; c++) {
            String model = c % 2 == 0 ? "gemma" : "llama";
            clients.execute(() -> {
                // Bounded in count and time; loopback only.
                while (System.nanoTime() < loadEnd && issued.incrementAndGet() <= 2000) {
                    long t0 = System.nanoTime();
                    String outcome = call(model);
                    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                    if (ms > TimeUnit.SECONDS.toMillis(CALL_DEADLINE_SECONDS) + 1500) {
                        overdue.add(ms);
                    }
                    outcomes.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
                    if (outcome.equals("OK") && t0 > killAt + TimeUnit.SECONDS.toNanos(10)) {
                        servedAfterKill.add(model);
                    }
                }
            });
        }
        Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(killAt - System.nanoTime())));
        worker2.kill();
        clients.shutdown();
        assertTrue(clients.awaitTermination(CALL_DEADLINE_SECONDS + 30, TimeUnit.SECONDS), "client threads ended");

        Map<String, Integer> summary = new TreeMap<>(outcomes.entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get())));
        System.out.println("WorkerFailoverTest outcomes: " + summary);
        assertTrue(overdue.isEmpty(), "calls that outlived their deadline (ms): " + overdue);
        for (String outcome : summary.keySet()) {
            assertTrue(outcome.equals("OK") || outcome.startsWith("UNAVAILABLE: replica "),
                    "every call completed or failed with a clear status, got " + summary);
        }
        assertTrue(summary.getOrDefault("OK", 0) > 0, "calls were served: " + summary);
        assertEquals(Set.of("gemma", "llama"), servedAfterKill, "both models served after the kill");

        String survivor = worker1.address();
        awaitReplicas(m -> m.getReplicasList().stream().allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_READY
                && r.getNode().equals(survivor)), 60, "every replica back and ready on " + survivor);

        // The worker returns (a new process on the same address): replicas spread back over both.
        worker2 = NodeProcess.start("worker2-returned", "127.0.0.3", List.of("--roles", "worker", "--seed-nodes",
                gateway.address(), "--memory-mb", "64", "--config", Path.of("target", "failover-cluster.conf").toAbsolutePath().toString()));
        awaitReplicas(m -> m.getReplicasList().stream().allMatch(r -> r.getState() == ReplicaState.REPLICA_STATE_READY)
                && nodes(m).equals(Set.of(survivor, worker2.address())), 90, "each model spread over both workers again");
        assertEquals("OK", call("gemma"));
        assertEquals("OK", call("llama"));
    }

    /** One streamed call; "OK" or "CODE: description" (descriptions of UNAVAILABLE are kept to tell causes apart). */
    static String call(String model) {
        try {
            int tokens = 0;
            var stub = InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(CALL_DEADLINE_SECONDS, TimeUnit.SECONDS);
            var it = stub.generate(GenerateRequest.newBuilder().setModel(model).setMaxTokens(200)
                    .setTokenIds(TokenIds.newBuilder().addIds(model.equals("gemma") ? 2 : 1).addIds(4).addIds(5)).build());
            GenerateResponse last = null;
            while (it.hasNext()) {
                last = it.next();
                tokens += last.getDelta().getTokenIdsCount();
            }
            return last != null && last.hasFinished() && last.getFinished().getUsage().getCompletionTokens() == tokens
                    ? "OK" : "INCOMPLETE";
        } catch (StatusRuntimeException e) {
            Status s = e.getStatus();
            String d = s.getDescription() == null ? "" : s.getDescription();
            return s.getCode() + (s.getCode() == Status.Code.UNAVAILABLE && d.startsWith("replica ") ? ": replica lost mid-stream"
                    : ": " + d);
        }
    }

    static Set<String> nodes(Model m) {
        return m.getReplicasList().stream().map(Replica::getNode).collect(Collectors.toSet());
    }

    static void awaitReplicas(Predicate<Model> condition, int seconds, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "";
        while (System.nanoTime() < end) {
            try {
                var stub = InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS);
                Model g = stub.getModel(GetModelRequest.newBuilder().setId("gemma").build());
                Model l = stub.getModel(GetModelRequest.newBuilder().setId("llama").build());
                if (condition.test(g) && condition.test(l)) {
                    return;
                }
                last = describe(g) + " " + describe(l);
            } catch (StatusRuntimeException e) {
                last = e.getStatus().toString();
            }
            assertTrue(gateway.alive(), "gateway died:\n" + gateway.logTail());
            Thread.sleep(250);
        }
        fail("timed out waiting for " + what + "; last seen: " + last + "\n--- gateway log ---\n" + gateway.logTail()
                + "\n--- worker1 log ---\n" + worker1.logTail());
    }

    static String describe(Model m) {
        return m.getId() + m.getReplicasList().stream().map(r -> r.getId() + "=" + r.getState().name()
                .substring("REPLICA_STATE_".length()) + "@" + r.getNode()).toList();
    }

    static String model(String name) {
        try {
            return Path.of(WorkerFailoverTest.class.getResource("/models/" + name).toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
