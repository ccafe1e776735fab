package dev.shardlight.tokenizer.server;

import com.google.protobuf.Message;
import dev.shardlight.proto.v1.ApplyChatTemplateRequest;
import dev.shardlight.proto.v1.ApplyChatTemplateResponse;
import dev.shardlight.proto.v1.CountTokensRequest;
import dev.shardlight.proto.v1.CountTokensResponse;
import dev.shardlight.proto.v1.DecodeRequest;
import dev.shardlight.proto.v1.DecodeResponse;
import dev.shardlight.proto.v1.EncodeRequest;
import dev.shardlight.proto.v1.EncodeResponse;
import dev.shardlight.proto.v1.ListTokenizersRequest;
import dev.shardlight.proto.v1.ListTokenizersResponse;
import dev.shardlight.proto.v1.TokenizerChat;
import dev.shardlight.proto.v1.TokenizerInfo;
import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import dev.shardlight.tokenizer.ChatPrompt;
import dev.shardlight.tokenizer.ChatTemplate;
import dev.shardlight.tokenizer.ChatTemplateException;
import dev.shardlight.tokenizer.Tokenizer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.Supplier;

/**
 * shardlight.v1.TokenizerService over {@link ServedTokenizers}. Every call is unary and answered
 * on the gRPC executor thread that received it; tokenizers and templates are immutable, so calls
 * run concurrently without locks.
 */
final class TokenizerService extends TokenizerServiceGrpc.TokenizerServiceImplBase {
    private final ServedTokenizers tokenizers;
    private final RequestLimits limits;

    TokenizerService(ServedTokenizers tokenizers, RequestLimits limits) {
        this.tokenizers = tokenizers;
        this.limits = limits;
    }

    @Override
    public void encode(EncodeRequest request, StreamObserver<EncodeResponse> response) {
        answer(request, response, () -> EncodeResponse.newBuilder()
                .addAllIds(asList(encode(request.getModel(), request.getText(), request.getAddBos(), request.getUntrusted())))
                .build());
    }

    @Override
    public void decode(DecodeRequest request, StreamObserver<DecodeResponse> response) {
        answer(request, response, () -> {
            ServedTokenizers.Served served = tokenizers.get(request.getModel());
            Errors.checkSize("ids", request.getIdsCount(), limits.maxIds(), "ids");
            int[] ids = new int[request.getIdsCount()];
            int size = served.tokenizer().vocabularySize();
            for (int i = 0; i < ids.length; i++) {
                int id = request.getIds(i);
                // uint32 arrives as a signed int: ids >= 2^31 are negative here
                if (id < 0 || id >= size) {
                    throw Errors.invalid("ids[" + i + "]: " + Integer.toUnsignedString(id) + " is outside the vocabulary [0, "
                            + size + ") of " + served.model());
                }
                ids[i] = id;
            }
            return DecodeResponse.newBuilder().setText(served.tokenizer().decode(ids, request.getSkipSpecial())).build();
        });
    }

    @Override
    public void countTokens(CountTokensRequest request, StreamObserver<CountTokensResponse> response) {
        answer(request, response, () -> {
            int count = switch (request.getInputCase()) {
                case TEXT -> encode(request.getModel(), request.getText(), request.getAddBos(), request.getUntrusted()).length;
                case CHAT -> applyChatTemplate(request.getModel(), request.getChat()).ids().length;
                case INPUT_NOT_SET -> {
                    tokenizers.get(request.getModel());
                    throw Errors.invalid("input: set text or chat");
                }
            };
            return CountTokensResponse.newBuilder().setCount(count).build();
        });
    }

    @Override
    public void applyChatTemplate(ApplyChatTemplateRequest request, StreamObserver<ApplyChatTemplateResponse> response) {
        answer(request, response, () -> {
            if (!request.hasChat()) {
                tokenizers.get(request.getModel());
                throw Errors.invalid("chat: required");
            }
            ChatPrompt prompt = applyChatTemplate(request.getModel(), request.getChat());
            return ApplyChatTemplateResponse.newBuilder().setText(prompt.text()).addAllIds(asList(prompt.ids())).build();
        });
    }

    @Override
    public void listTokenizers(ListTokenizersRequest request, StreamObserver<ListTokenizersResponse> response) {
        answer(request, response, () -> {
            ListTokenizersResponse.Builder b = ListTokenizersResponse.newBuilder();
            for (ServedTokenizers.Served s : tokenizers.all()) {
                TokenizerInfo.Builder info = TokenizerInfo.newBuilder()
                        .setModel(s.model())
                        .setVocabularySize(s.tokenizer().vocabularySize())
                        .setHasChatTemplate(s.template().isPresent());
                bosId(s.tokenizer()).ifPresent(info::setBosId);
                b.addTokenizers(info);
            }
            return b.build();
        });
    }

    private int[] encode(String model, String text, boolean addBos, boolean untrusted) {
        ServedTokenizers.Served served = tokenizers.get(model);
        Errors.checkSize("text", RequestLimits.utf8Length(text), limits.maxTextBytes());
        if (addBos && bosId(served.tokenizer()).isEmpty()) {
            throw Errors.invalid("add_bos: the tokenizer of " + model + " defines no BOS token");
        }
        if (!untrusted) {
            return served.tokenizer().encode(text, addBos);
        }
        int[] ids = served.tokenizer().encodeUntrusted(text);
        if (!addBos) {
            return ids;
        }
        int[] withBos = new int[ids.length + 1];
        withBos[0] = served.tokenizer().bosId();
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return withBos;
    }

    private ChatPrompt applyChatTemplate(String model, TokenizerChat chat) {
        ServedTokenizers.Served served = tokenizers.get(model);
        ChatTemplate template = served.template().orElseThrow(() -> Status.FAILED_PRECONDITION
                .withDescription("the tokenizer files of " + model + " carry no chat template").asRuntimeException());
        ChatRequest request = ChatRequest.from(chat, "chat", limits);
        try {
            return template.apply(request.messages(), request.options());
        } catch (ChatTemplateException e) {
            // the template's own words, e.g. raise_exception("Conversation roles must alternate ...")
            throw Errors.invalid(e.getMessage());
        } catch (IllegalArgumentException e) {
            // content the library refuses (e.g. the noncharacters it reserves for tracing content)
            throw Errors.invalid("chat.messages: " + e.getMessage());
        }
    }

    private static OptionalInt bosId(Tokenizer tokenizer) {
        try {
            return OptionalInt.of(tokenizer.bosId());
        } catch (IllegalStateException none) {
            return OptionalInt.empty();
        }
    }

    private static List<Integer> asList(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    /**
     * Completes a unary call; a request that could not be parsed is refused first (see
     * {@link Utf8CheckedRequests}). A status thrown while computing the answer becomes the call's
     * status; anything else is a bug and reaches the client as INTERNAL with its message (gRPC
     * would otherwise say UNKNOWN with none).
     */
    private static <T> void answer(Message request, StreamObserver<T> response, Supplier<T> compute) {
        T value;
        try {
            Utf8CheckedRequests.rejectUnreadable(request);
            value = compute.get();
        } catch (StatusRuntimeException e) {
            response.onError(e);
            return;
        } catch (RuntimeException e) {
            response.onError(Status.INTERNAL.withDescription(e.toString()).withCause(e).asRuntimeException());
            return;
        }
        response.onNext(value);
        response.onCompleted();
    }
}
