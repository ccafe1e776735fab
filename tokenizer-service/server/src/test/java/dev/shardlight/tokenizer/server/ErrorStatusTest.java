package dev.shardlight.tokenizer.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.shardlight.proto.v1.ApplyChatTemplateRequest;
import dev.shardlight.proto.v1.CountTokensRequest;
import dev.shardlight.proto.v1.DecodeRequest;
import dev.shardlight.proto.v1.EncodeRequest;
import dev.shardlight.proto.v1.TokenizerChat;
import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.shardlight.tokenizer.server.ApplyChatTemplateTest.message;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every error path: its status code and a message that names the field, the value and the limit. */
class ErrorStatusTest {
    private static final RequestLimits SMALL = new RequestLimits(64, 8);
    private static TestServer server;
    private static TokenizerServiceGrpc.TokenizerServiceBlockingStub stub;

    @BeforeAll
    static void start() {
        server = new TestServer(SMALL);
        stub = server.stub();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        server.close();
    }

    private static void assertStatus(Status.Code code, String message, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals(message, e.getStatus().getDescription());
    }

    @Test
    void unknownModelIsNotFoundAndListsTheServedIds() {
        assertStatus(Status.Code.NOT_FOUND, "unknown model \"gpt-4\"; this server has gemma3, llama3",
                () -> stub.encode(EncodeRequest.newBuilder().setModel("gpt-4").setText("hi").build()));
        assertStatus(Status.Code.NOT_FOUND, "unknown model \"Gemma3\"; this server has gemma3, llama3",
                () -> stub.decode(DecodeRequest.newBuilder().setModel("Gemma3").addIds(1).build()));
        assertStatus(Status.Code.NOT_FOUND, "model: required; this server has gemma3, llama3",
                () -> stub.countTokens(CountTokensRequest.newBuilder().setText("hi").build()));
    }

    @Test
    void idsOutsideTheVocabularyAreInvalidAndNamed() {
        assertStatus(Status.Code.INVALID_ARGUMENT, "ids[1]: 262145 is outside the vocabulary [0, 262145) of gemma3",
                () -> stub.decode(DecodeRequest.newBuilder().setModel("gemma3").addIds(9259).addIds(262145).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "ids[0]: 4294967295 is outside the vocabulary [0, 128256) of llama3",
                () -> stub.decode(DecodeRequest.newBuilder().setModel("llama3").addIds(-1).build()));
    }

    @Test
    void oversizedRequestsSayTheirSizeAndTheLimit() {
        assertStatus(Status.Code.INVALID_ARGUMENT, "text: 65 bytes of UTF-8 exceeds this server's limit of 64 bytes of UTF-8",
                () -> stub.encode(EncodeRequest.newBuilder().setModel("gemma3").setText("x".repeat(65)).build()));
        // 22 characters, 66 bytes
        assertStatus(Status.Code.INVALID_ARGUMENT, "text: 66 bytes of UTF-8 exceeds this server's limit of 64 bytes of UTF-8",
                () -> stub.countTokens(CountTokensRequest.newBuilder().setModel("llama3").setText("世".repeat(22)).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "ids: 9 ids exceeds this server's limit of 8 ids",
                () -> stub.decode(DecodeRequest.newBuilder().setModel("gemma3").addAllIds(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9)).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "chat: 68 bytes of UTF-8 exceeds this server's limit of 64 bytes of UTF-8",
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("gemma3").setChat(TokenizerChat.newBuilder()
                        .addMessages(message("user", "x".repeat(30))).addMessages(message("assistant", "y".repeat(25)))).build()));
    }

    @Test
    void aTemplateThatRaisesIsInvalidWithTheTemplatesOwnMessage() {
        assertStatus(Status.Code.INVALID_ARGUMENT, "Conversation roles must alternate user/assistant/user/assistant/...",
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("gemma3").setChat(TokenizerChat.newBuilder()
                        .addMessages(message("user", "a")).addMessages(message("user", "b"))).build()));
    }

    @Test
    void malformedChatFieldsAreNamed() {
        assertStatus(Status.Code.INVALID_ARGUMENT, "chat.messages: a chat needs at least one message",
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("gemma3")
                        .setChat(TokenizerChat.newBuilder().setAddGenerationPrompt(true)).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "chat: required",
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("gemma3").build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "chat.messages[1].role: required (system, user, assistant or tool)",
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("gemma3").setChat(TokenizerChat.newBuilder()
                        .addMessages(message("user", "a")).addMessages(message("", "b"))).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "chat.date: expected an ISO-8601 date (2025-03-09) or local date-time (2025-03-09T14:30), got \"9 March\"",
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("llama3").setChat(TokenizerChat.newBuilder()
                        .addMessages(message("user", "a")).setDate("9 March")).build()));
        StatusRuntimeException tools = assertThrows(StatusRuntimeException.class,
                () -> stub.applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("llama3").setChat(TokenizerChat.newBuilder()
                        .addMessages(message("user", "a")).setToolsJson("{\"name\": \"f\"}")).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, tools.getStatus().getCode());
        assertEquals("chat.tools_json: expected a JSON array of tool objects, got \"{\"name\": \"f\"}\"",
                tools.getStatus().getDescription().substring(0, tools.getStatus().getDescription().indexOf(" (")));
        assertStatus(Status.Code.INVALID_ARGUMENT, "input: set text or chat",
                () -> stub.countTokens(CountTokensRequest.newBuilder().setModel("gemma3").build()));
    }

    @Test
    void stringsThatAreNotUtf8AreInvalidAndNamed() throws IOException {
        ByteString encode = wire(out -> {
            out.writeString(1, "gemma3");
            out.writeByteArray(2, new byte[]{'a', (byte) 0xC3, '('});
        });
        assertStatus(Status.Code.INVALID_ARGUMENT, "text: not valid UTF-8 (proto3 strings must be UTF-8)",
                () -> rawCall(TokenizerServiceGrpc.getEncodeMethod(), encode));

        ByteString badMessage = wire(out -> {
            out.writeString(1, "user");
            out.writeByteArray(2, new byte[]{(byte) 0xFF});
        });
        ByteString chat = wire(out -> {
            out.writeBytes(1, wire(m -> m.writeString(1, "user")));
            out.writeBytes(1, badMessage);
        });
        ByteString apply = wire(out -> {
            out.writeString(1, "gemma3");
            out.writeBytes(2, chat);
        });
        assertStatus(Status.Code.INVALID_ARGUMENT, "chat.messages[1].content: not valid UTF-8 (proto3 strings must be UTF-8)",
                () -> rawCall(TokenizerServiceGrpc.getApplyChatTemplateMethod(), apply));
    }

    @Test
    void bytesThatAreNotProtobufAreInvalid() {
        assertStatus(Status.Code.INVALID_ARGUMENT, "the request is not a valid shardlight.v1.DecodeRequest message",
                () -> rawCall(TokenizerServiceGrpc.getDecodeMethod(), ByteString.copyFrom(new byte[]{(byte) 0xFF, (byte) 0xFF})));
    }

    @Test
    void aModelWithoutAChatTemplateCannotApplyOne(@TempDir Path dir) throws Exception {
        // tokenizer.json alone: no tokenizer_config.json beside it, so no template
        Files.createSymbolicLink(dir.resolve("tokenizer.json"), TestServer.cacheDir().resolve("llama3/tokenizer.json"));
        try (TestServer bare = new TestServer(Map.of("llama3-base", TestServer.load(dir.resolve("tokenizer.json"))), SMALL)) {
            assertStatus(Status.Code.FAILED_PRECONDITION, "the tokenizer files of llama3-base carry no chat template",
                    () -> bare.stub().applyChatTemplate(ApplyChatTemplateRequest.newBuilder().setModel("llama3-base")
                            .setChat(TokenizerChat.newBuilder().addMessages(message("user", "a"))).build()));
        }
    }

    private interface WireWriter {
        void write(CodedOutputStream out) throws IOException;
    }

    private static ByteString wire(WireWriter writer) throws IOException {
        ByteString.Output bytes = ByteString.newOutput();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        writer.write(out);
        out.flush();
        return bytes.toByteString();
    }

    /** Calls a method with request bytes as they are, as a client with a lax protobuf library could send them. */
    private static void rawCall(MethodDescriptor<?, ?> method, ByteString request) {
        MethodDescriptor<ByteString, ByteString> raw = MethodDescriptor.<ByteString, ByteString>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(method.getFullMethodName())
                .setRequestMarshaller(BYTES)
                .setResponseMarshaller(BYTES)
                .build();
        ClientCalls.blockingUnaryCall(server.channel, raw, CallOptions.DEFAULT, request);
    }

    private static final MethodDescriptor.Marshaller<ByteString> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(ByteString value) {
            return new ByteArrayInputStream(value.toByteArray());
        }

        @Override
        public ByteString parse(InputStream stream) {
            try {
                return ByteString.readFrom(stream);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };
}
