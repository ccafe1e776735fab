package dev.shardlight.gateway;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shardlight.worker.EngineReplica;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessServerBuilder;
import org.apache.pekko.cluster.typed.Cluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two nodes in one JVM: a gateway/router node without the worker role and a worker-only node that
 * hosts the replica. The worker has no router view, yet its own /metrics lists its replicas'
 * state, queue depth, in-flight requests and KV bytes, live.
 */
class WorkerNodeMetricsTest {
    static ShardlightNode gateway;
    static ShardlightNode worker;
    static ManagedChannel channel;
    static final String NAME = "worker-metrics-test";

    @BeforeAll
    static void start() throws Exception {
        List<String> models = List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 2));
        gateway = ShardlightNode.start(config(models, "shardlight.roles = [gateway, router]"), EngineReplica::open,
                catalog -> PromptCodec.Registry.none(), (host, port) -> InProcessServerBuilder.forName(NAME));
        int seedPort = Cluster.get(gateway.system()).selfMember().address().getPort().orElseThrow();
        worker = ShardlightNode.start(config(models, """
                        shardlight.roles = [worker]
                        shardlight.metrics.port = 0
                        shardlight.seed-nodes = ["127.0.0.1:%d"]
                        """.formatted(seedPort)), EngineReplica::open, catalog -> PromptCodec.Registry.none(),
                (host, port) -> InProcessServerBuilder.forName(NAME + "-unused"));
        gateway.awaitSettled(Duration.ofSeconds(30));
        channel = new TestNodes.Started(gateway, NAME).channel();
    }

    static Config config(List<String> models, String extra) {
        return ConfigFactory.parseString(extra).withFallback(TestNodes.config(models, ""));
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (worker != null) {
            worker.close();
        }
        if (gateway != null) {
            gateway.close();
        }
    }

    static String scrape(ShardlightNode node) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + node.metricsPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void aWorkerOnlyNodeExportsItsOwnReplicasGauges() throws Exception {
        int workerPort = Cluster.get(worker.system()).selfMember().address().getPort().orElseThrow();
        String labels = "{model=\"tiny\",node=\"127.0.0.1:" + workerPort + "\",replica=\"tiny#0\"}";
        String idle = scrape(worker);
        for (String expected : List.of(
                "shardlight_replica_info{model=\"tiny\",node=\"127.0.0.1:" + workerPort + "\",replica=\"tiny#0\",state=\"ready\"} 1",
                "shardlight_replica_queue_depth" + labels + " 0",
                "shardlight_replica_in_flight_requests" + labels + " 0",
                "shardlight_replica_kv_cache_bytes" + labels + " 0",
                "shardlight_replica_kv_blocks_used" + labels + " 0",
                "shardlight_replica_batch_size" + labels + " 0",
                "shardlight_replica_engine_steps_total" + labels + " ",
                "shardlight_replica_prefix_cache_hit_tokens_total" + labels + " ",
                "jvm_memory_used_bytes")) {
            assertTrue(idle.contains(expected), "worker metrics contain " + expected + "\n" + idle);
        }

        // A stream held still by its reader keeps the replica busy: the worker reports it live.
        GatewayErrorsTest.StalledCall busy = GatewayErrorsTest.StalledCall.start(channel,
                TestNodes.tokens("tiny", 240, GatewayErrorsTest.LONG_PROMPT).build(), 60);
        try {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String text;
            do {
                Thread.sleep(50);
                text = scrape(worker);
            } while (!(text.contains("shardlight_replica_in_flight_requests" + labels + " 1")
                    && !text.contains("shardlight_replica_kv_cache_bytes" + labels + " 0.0")) && System.nanoTime() < end);
            assertTrue(text.contains("shardlight_replica_in_flight_requests" + labels + " 1"), text);
            String kvLine = text.lines().filter(l -> l.startsWith("shardlight_replica_kv_cache_bytes" + labels))
                    .findFirst().orElseThrow();
            assertTrue(Double.parseDouble(kvLine.substring(kvLine.lastIndexOf(' ') + 1)) > 0, kvLine + "\n" + text);
        } finally {
            busy.call.cancel("done", null);
        }
    }
}
