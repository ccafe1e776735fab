package dev.shardlight.gateway;

import dev.shardlight.proto.v1.Chat;
import dev.shardlight.proto.v1.ChatMessage;
import dev.shardlight.proto.v1.FinishReason;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.worker.EngineReplica;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Text in, text out: the model's own tokenizer (from its GGUF) encodes prompts and decodes the stream. */
class TextStreamingTest {
    static TestNodes.Started cluster;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        var config = TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 2)), "");
        String name = "text-test";
        ShardlightNode node = ShardlightNode.start(config, EngineReplica::open, TokenizerCodecs::new,
                (host, port) -> io.grpc.inprocess.InProcessServerBuilder.forName(name));
        node.awaitSettled(java.time.Duration.ofSeconds(30));
        cluster = new TestNodes.Started(node, name);
        channel = cluster.channel();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        cluster.close();
    }

    record Reply(String text, Finished finished) {
    }

    static Reply generate(GenerateRequest r) {
        StringBuilder text = new StringBuilder();
        Finished[] finished = new Finished[1];
        InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).generate(r).forEachRemaining(m -> {
            text.append(m.getDelta().getText());
            if (m.hasFinished()) {
                finished[0] = m.getFinished();
            }
        });
        return new Reply(text.toString(), finished[0]);
    }

    @Test
    void textPromptsAreEncodedWithBosAndTheStreamCarriesText() {
        Reply r = generate(GenerateRequest.newBuilder().setModel("tiny").setText("hello world").setMaxTokens(24).build());
        assertTrue(r.finished().getUsage().getPromptTokens() >= 2, "BOS plus the encoded text");
        assertTrue(!r.text().isEmpty(), "decoded text streamed");
        assertTrue(InferenceGrpc.newBlockingStub(channel).getModel(GetModelRequest.newBuilder().setId("tiny").build())
                .getHasTokenizer());
    }

    @Test
    void logprobsNameTheChosenTokenAndItsAlternativesByText() {
        List<dev.shardlight.proto.v1.TokenLogprob> lps = new ArrayList<>();
        InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).generate(GenerateRequest.newBuilder()
                        .setModel("tiny").setText("hello world").setMaxTokens(6).setLogprobs(3).build())
                .forEachRemaining(m -> lps.addAll(m.getDelta().getLogprobsList()));
        assertTrue(!lps.isEmpty());
        var codec = new TokenizerCodecs(cluster.node().catalog()).forModel("tiny").orElseThrow();
        for (var lp : lps) {
            assertEquals(codec.tokenText(lp.getTokenId()), lp.getToken());
            assertEquals(3, lp.getTopCount());
            for (var top : lp.getTopList()) {
                assertEquals(codec.tokenText(top.getTokenId()), top.getToken());
            }
        }
        assertTrue(lps.stream().anyMatch(lp -> !lp.getToken().isEmpty()), "token text is filled in");
    }

    @Test
    void aStopStringEndsTheStreamBeforeItAndIsNotReturned() {
        GenerateRequest.Builder req = GenerateRequest.newBuilder().setModel("tiny").setText("hello world").setMaxTokens(40);
        String full = generate(req.build()).text();
        assertTrue(full.length() >= 6, "enough text to cut: \"" + full + "\"");
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        Reply cut = generate(req.addStop(stop).build());
        assertEquals(full.substring(0, full.indexOf(stop)), cut.text());
        assertEquals(FinishReason.FINISH_REASON_STOP, cut.finished().getReason());
    }

    @Test
    void chatOnAModelWithoutAChatTemplateIsInvalidArgumentSayingSo() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> generate(GenerateRequest.newBuilder()
                .setModel("tiny").setChat(Chat.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi")))
                .build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertEquals("chat: model tiny has no chat template; send text or token_ids", e.getStatus().getDescription());
    }
}
