package dev.shardlight.gateway;

import dev.shardlight.proto.v1.DecodeRequest;
import dev.shardlight.proto.v1.EncodeRequest;
import dev.shardlight.proto.v1.ListTokenizersRequest;
import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import dev.shardlight.worker.EngineReplica;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A node with the tokenizer role serves the declared models' own tokenizers over gRPC, as the gateway encodes. */
class TokenizerRoleTest {
    @Test
    void tokenizerRoleServesTheModelsOwnTokenizerLikeTheGatewayUsesIt() throws Exception {
        var config = TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 2)),
                "shardlight.roles = [gateway, router, worker, tokenizer]\nshardlight.tokenizer.port = 50099\n");
        String name = "tokenizer-role-test";
        ShardlightNode node = ShardlightNode.start(config, EngineReplica::open, TokenizerCodecs::new,
                (host, port) -> InProcessServerBuilder.forName(name + ":" + port));
        ManagedChannel channel = InProcessChannelBuilder.forName(name + ":50099").directExecutor().build();
        try {
            node.awaitSettled(Duration.ofSeconds(30));
            var stub = TokenizerServiceGrpc.newBlockingStub(channel);
            var listed = stub.listTokenizers(ListTokenizersRequest.getDefaultInstance());
            assertEquals(1, listed.getTokenizersCount());
            assertEquals("tiny", listed.getTokenizers(0).getModel());

            String text = "hello world, hello tokens";
            int[] viaService = stub.encode(EncodeRequest.newBuilder().setModel("tiny").setText(text).setUntrusted(true)
                    .setAddBos(true).build()).getIdsList().stream().mapToInt(Integer::intValue).toArray();
            int[] viaGateway = new TokenizerCodecs(node.catalog()).forModel("tiny").orElseThrow().encode(text);
            assertArrayEquals(viaGateway, viaService, "the service and the gateway's in-process codec agree");
            assertTrue(viaService.length > 2);

            String decoded = stub.decode(DecodeRequest.newBuilder().setModel("tiny").setSkipSpecial(true)
                    .addAllIds(java.util.Arrays.stream(viaService).boxed().toList()).build()).getText();
            assertEquals(text, decoded);

            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> stub.encode(EncodeRequest.newBuilder().setModel("nope").setText("x").build()));
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains("tiny"), e.getStatus().getDescription());
        } finally {
            channel.shutdownNow();
            node.close();
        }
    }
}
