package dev.shardlight.gateway;

import dev.shardlight.proto.v1.FinishReason;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.SamplingParams;
import dev.shardlight.worker.EngineReplica;
import dev.shardlight.worker.ModelSpec;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching through the real path: 16 clients stream at once from one replica (16 batch
 * slots); every request succeeds, the replica really ran them together, each greedy stream equals
 * the engine run alone on that prompt, and a repeated prompt is served from the prefix cache with
 * the cached tokens reported in the usage.
 */
class BatchedServingTest {
    static TestNodes.Started cluster;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        cluster = TestNodes.start(TestNodes.config(List.of("{ id = \"tiny\", path = \"" + TestNodes.tinyGemma()
                + "\", replicas = 1, context-length = 256, kv-budget-mb = 16, queue-capacity = 4, max-batch = 16,"
                + " step-tokens = 64 }"), ""));
        channel = cluster.channel();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        cluster.close();
    }

    record Result(List<Integer> ids, GenerateResponse finished) {
    }

    static Result generate(int maxTokens, int[] prompt) {
        List<Integer> ids = new ArrayList<>();
        GenerateResponse[] last = {null};
        InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS)
                .generate(TestNodes.tokens("tiny", maxTokens, prompt)
                        .setSampling(SamplingParams.newBuilder().setTemperature(0)).build())
                .forEachRemaining(r -> {
                    ids.addAll(r.getDelta().getTokenIdsList());
                    if (r.hasFinished()) {
                        last[0] = r;
                    }
                });
        return new Result(ids, last[0]);
    }

    @Test
    void sixteenConcurrentClientsAllSucceedAndEachGetsItsAloneResult() throws Exception {
        int clients = 16;
        Random rnd = new Random(5);
        List<int[]> prompts = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            int[] p = new int[3 + rnd.nextInt(40)];
            for (int k = 0; k < p.length; k++) {
                p[k] = 3 + rnd.nextInt(200);
            }
            prompts.add(p);
            lengths.add(8 + rnd.nextInt(24));
        }
        List<List<Integer>> alone = new ArrayList<>();
        try (EngineReplica engine = EngineReplica.open(new ModelSpec("d", TestNodes.tinyGemma(), 1, 256, 1 << 20, 0, 1))) {
            for (int i = 0; i < clients; i++) {
                List<Integer> out = new ArrayList<>();
                engine.generate(prompts.get(i), lengths.get(i), dev.shardlight.engine.runtime.SamplingParams.GREEDY,
                        new int[0], out::add, () -> false);
                alone.add(out);
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<CompletableFuture<Result>> calls = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int n = i;
                calls.add(CompletableFuture.supplyAsync(() -> generate(lengths.get(n), prompts.get(n)), pool));
            }
            for (int i = 0; i < clients; i++) {
                Result r = calls.get(i).get(120, TimeUnit.SECONDS);
                assertEquals(alone.get(i), r.ids(), "client " + i + ": batched stream vs the engine alone");
                assertEquals(r.ids().size(), r.finished().getFinished().getUsage().getCompletionTokens());
                assertTrue(r.finished().getFinished().getReason() != FinishReason.FINISH_REASON_ERROR);
            }
        } finally {
            pool.shutdownNow();
        }
        // the router's view polls replica status every 100 ms
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        dev.shardlight.engine.runtime.BatchScheduler.Stats batch = null;
        while (System.nanoTime() < deadline) {
            var status = cluster.node().view().model("tiny").orElseThrow().replicas().get(0).status();
            batch = status == null ? null : status.batch();
            if (batch != null && batch.running() == 0 && batch.steps() > 0) {
                break;
            }
            Thread.sleep(50);
        }
        assertTrue(batch != null && batch.stepRows() > batch.steps(),
                "sequences shared engine steps: " + batch);
    }

    @Test
    void aRepeatedPromptIsServedFromThePrefixCacheAndReportsCachedTokens() {
        int[] prompt = new int[70];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = 5 + (i * 7) % 150;
        }
        Result cold = generate(6, prompt);
        Result warm = generate(6, prompt);
        assertEquals(cold.ids(), warm.ids());
        assertEquals(0, cold.finished().getFinished().getUsage().getCachedTokens());
        assertEquals(64, warm.finished().getFinished().getUsage().getCachedTokens(), "four whole 16-token blocks");
        assertEquals(70, warm.finished().getFinished().getUsage().getPromptTokens());
    }
}
