package dev.shardlight.tests;

import com.typesafe.config.ConfigFactory;
import dev.shardlight.gateway.ShardlightNode;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** `shardlight serve` in this JVM (real Netty gRPC on loopback), against the engine run directly. */
class SingleJvmOverheadTest {

    @Test
    void measuresGatewayAndRouterOverheadAgainstTheEngineDirectly() throws Exception {
        String path = model("gemma3-tiny-q8_0.gguf");
        int grpcPort = NodeProcess.freePort("127.0.0.1");
        try (ShardlightNode node = ShardlightNode.start(ConfigFactory.parseString("""
                shardlight.cluster-port = 0
                shardlight.metrics.port = -1
                shardlight.http.port = 0
                shardlight.gateway.port = %d
                pekko.loglevel = WARNING
                shardlight.models = [ { id = "tiny", path = "%s", replicas = 1, context-length = 256, kv-budget-mb = 8 } ]
                """.formatted(grpcPort, path)))) {
            assertTrue(node.awaitSettled(Duration.ofSeconds(60)).isEmpty());
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
            try {
                Overhead.measure("single JVM, Netty loopback", channel, "tiny", path, new int[] {2, 4, 5}, 32, 20, 60);
            } finally {
                channel.shutdownNow();
            }
        }
    }

    static String model(String name) throws URISyntaxException {
        return Path.of(SingleJvmOverheadTest.class.getResource("/models/" + name).toURI()).toString();
    }
}
