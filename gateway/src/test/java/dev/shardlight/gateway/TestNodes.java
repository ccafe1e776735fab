package dev.shardlight.gateway;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shardlight.worker.EngineReplica;
import dev.shardlight.worker.ReplicaEngine;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Single-JVM nodes for gateway tests: every role, in-process gRPC, serialization forced. */
final class TestNodes {
    private static final AtomicInteger NAMES = new AtomicInteger();

    private TestNodes() {
    }

    static Path fixture(String name) {
        try {
            return Path.of(TestNodes.class.getResource("/models/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static String tinyGemma() {
        return fixture("gemma3-tiny-q8_0.gguf").toString();
    }

    /** HOCON for one declared model. */
    static String model(String id, String path, int replicas, int contextLength, int queueCapacity) {
        return "{ id = \"" + id + "\", path = \"" + path + "\", replicas = " + replicas + ", context-length = "
                + contextLength + ", kv-budget-mb = 16, queue-capacity = " + queueCapacity + " }";
    }

    static Config config(List<String> models, String extra) {
        return ConfigFactory.parseString("""
                shardlight.cluster-port = 0
                shardlight.metrics.port = -1
                shardlight.router.poll-interval = 100ms
                shardlight.gateway.admit-timeout = 2s
                shardlight.worker.memory-mb = 4096
                pekko.actor.serialize-messages = on
                pekko.loglevel = WARNING
                pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
                """ + "shardlight.models = [" + String.join(",", models) + "]\n" + extra);
    }

    /** A started node with in-process gRPC under a unique name; {@link #channel} reaches it. */
    record Started(ShardlightNode node, String serverName) implements AutoCloseable {
        ManagedChannel channel() {
            return InProcessChannelBuilder.forName(serverName).directExecutor().build();
        }

        @Override
        public void close() throws InterruptedException {
            node.close();
        }
    }

    static Started start(Config config, ReplicaEngine.Factory engines, PromptCodec.Registry codecs) throws Exception {
        return start(config, engines, codecs, false);
    }

    static Started start(Config config, ReplicaEngine.Factory engines, PromptCodec.Registry codecs, boolean expectFailures)
            throws Exception {
        String name = "gateway-test-" + NAMES.incrementAndGet();
        ShardlightNode node = ShardlightNode.start(config, engines, catalog -> codecs,
                (host, port) -> InProcessServerBuilder.forName(name));
        try {
            var failed = node.awaitSettled(Duration.ofSeconds(30));
            if (!expectFailures && !failed.isEmpty()) {
                throw new IllegalStateException("models failed to load: " + failed);
            }
        } catch (RuntimeException | InterruptedException e) {
            node.close();
            throw e;
        }
        return new Started(node, name);
    }

    /** A Generate request for {@code model} from token ids. */
    static dev.shardlight.proto.v1.GenerateRequest.Builder tokens(String model, int maxTokens, int... ids) {
        var t = dev.shardlight.proto.v1.TokenIds.newBuilder();
        for (int id : ids) {
            t.addIds(id);
        }
        return dev.shardlight.proto.v1.GenerateRequest.newBuilder().setModel(model).setTokenIds(t).setMaxTokens(maxTokens);
    }

    static Started start(Config config) throws Exception {
        return start(config, EngineReplica::open, PromptCodec.Registry.none());
    }

    /** Polls {@code condition} every 20 ms; fails naming {@code what} if it is still false after 10 s. */
    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out waiting for: " + what);
            Thread.sleep(20);
        }
    }
}
