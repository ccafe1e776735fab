package dev.shardlight.gateway;

import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.proto.v1.ChatMessage;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.Tool;
import dev.shardlight.router.RouterView;
import io.grpc.Status;
import io.grpc.StatusException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Checks a Generate request before anything is queued, so a refusal is specific and nothing is
 * left half-done: NOT_FOUND for an unknown model (listing the served ones), INVALID_ARGUMENT naming
 * the field for a bad parameter, INVALID_ARGUMENT with both numbers when prompt + max_tokens
 * exceeds the model's context, FAILED_PRECONDITION for text input without a tokenizer.
 */
final class RequestValidator {
    static final int MAX_LOGPROBS = dev.shardlight.worker.ModelReplica.MAX_LOGPROBS;
    static final int MAX_STOP_STRINGS = 16;
    /** max_tokens = 0 means "up to the context", but no more than this. */
    static final int DEFAULT_MAX_TOKENS = 256;
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

    private final RouterView view;
    private final PromptCodec.Registry codecs;

    RequestValidator(RouterView view, PromptCodec.Registry codecs) {
        this.view = view;
        this.codecs = codecs;
    }

    ValidRequest validate(GenerateRequest r, String tenant, long deadlineEpochMillis) throws StatusException {
        if (r.getModel().isEmpty()) {
            throw invalid("model: required; served models: " + served());
        }
        RouterView.ModelState model = view.model(r.getModel()).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("model \"" + r.getModel() + "\" is not served here; served models: " + served())
                .asException());
        PromptCodec codec = codecs.forModel(r.getModel()).orElse(null);
        int vocab = model.info().map(i -> i.vocab()).orElse(Integer.MAX_VALUE);

        int[] prompt = prompt(r, model, codec, vocab);
        SamplingParams sampling = sampling(r);
        int[] stopTokens = new int[r.getStopTokenIdsCount()];
        for (int i = 0; i < stopTokens.length; i++) {
            stopTokens[i] = r.getStopTokenIds(i);
            if (stopTokens[i] < 0 || stopTokens[i] >= vocab) {
                throw invalid("stop_token_ids[" + i + "] = " + Integer.toUnsignedString(stopTokens[i])
                        + " is outside the vocabulary (0.." + (vocab - 1) + ")");
            }
        }
        if (r.getStopCount() > MAX_STOP_STRINGS) {
            throw invalid("stop: " + r.getStopCount() + " strings, at most " + MAX_STOP_STRINGS);
        }
        for (int i = 0; i < r.getStopCount(); i++) {
            if (r.getStop(i).isEmpty()) {
                throw invalid("stop[" + i + "] is empty");
            }
        }
        if (r.getStopCount() > 0 && codec == null) {
            throw Status.FAILED_PRECONDITION.withDescription("stop: stop strings need a tokenizer, and model "
                    + r.getModel() + " is served without one; use stop_token_ids").asException();
        }
        if (r.getLogprobs() < 0 || r.getLogprobs() > MAX_LOGPROBS) { // uint32 on the wire: above 2^31 reads negative
            throw invalid("logprobs = " + Integer.toUnsignedString(r.getLogprobs()) + " is outside 0.." + MAX_LOGPROBS);
        }
        if (r.getRequestId().length() > 128) {
            throw invalid("request_id: " + r.getRequestId().length() + " characters, at most 128");
        }

        int context = model.contextLength();
        long maxTokens = Integer.toUnsignedLong(r.getMaxTokens());
        if (maxTokens == 0) {
            maxTokens = Math.min(DEFAULT_MAX_TOKENS, context - prompt.length);
        }
        long total = prompt.length + maxTokens;
        if (maxTokens < 1 || total > context) {
            throw invalid("prompt (" + prompt.length + " tokens) + max_tokens (" + maxTokens + ") = " + total
                    + " exceeds the context length of " + r.getModel() + " (" + context + " tokens)");
        }
        String requestId = r.getRequestId().isEmpty() ? UUID.randomUUID().toString() : r.getRequestId();
        return new ValidRequest(requestId, tenant, r.getModel(), prompt, (int) maxTokens, sampling, stopTokens,
                List.copyOf(r.getStopList()), codec, deadlineEpochMillis, r.getLogprobs());
    }

    private int[] prompt(GenerateRequest r, RouterView.ModelState model, PromptCodec codec, int vocab) throws StatusException {
        switch (r.getInputCase()) {
            case TOKEN_IDS -> {
                List<Integer> ids = r.getTokenIds().getIdsList();
                if (ids.isEmpty()) {
                    throw invalid("token_ids.ids: empty; at least one token (e.g. BOS) is needed");
                }
                int[] out = new int[ids.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = ids.get(i);
                    if (out[i] < 0 || out[i] >= vocab) {
                        throw invalid("token_ids.ids[" + i + "] = " + Integer.toUnsignedString(out[i])
                                + " is outside the vocabulary of " + r.getModel() + " (0.." + (vocab - 1) + ")");
                    }
                }
                return out;
            }
            case TEXT -> {
                if (r.getText().isEmpty()) {
                    throw invalid("text: empty");
                }
                return needCodec(codec, r, "text").encode(r.getText());
            }
            case CHAT -> {
                if (r.getChat().getMessagesCount() == 0) {
                    throw invalid("chat.messages: empty");
                }
                List<Map<String, Object>> messages = new ArrayList<>();
                for (int i = 0; i < r.getChat().getMessagesCount(); i++) {
                    ChatMessage m = r.getChat().getMessages(i);
                    if (!ROLES.contains(m.getRole())) {
                        throw invalid("chat.messages[" + i + "].role = \"" + m.getRole() + "\" must be one of " + ROLES);
                    }
                    Map<String, Object> msg = new LinkedHashMap<>();
                    msg.put("role", m.getRole());
                    msg.put("content", m.getContent());
                    if (!m.getToolCallId().isEmpty()) {
                        msg.put("tool_call_id", m.getToolCallId());
                    }
                    messages.add(msg);
                }
                List<Map<String, Object>> tools = new ArrayList<>();
                for (Tool t : r.getChat().getToolsList()) {
                    Map<String, Object> tool = new LinkedHashMap<>();
                    tool.put("name", t.getName());
                    tool.put("description", t.getDescription());
                    tool.put("parameters_json", t.getParametersJson());
                    tools.add(tool);
                }
                PromptCodec c = needCodec(codec, r, "chat");
                try {
                    return c.encodeChat(messages, tools);
                } catch (IllegalArgumentException e) {
                    throw invalid("chat: " + e.getMessage());
                }
            }
            default -> throw invalid("input: set one of text, chat or token_ids");
        }
    }

    private static PromptCodec needCodec(PromptCodec codec, GenerateRequest r, String field) throws StatusException {
        if (codec == null) {
            throw Status.FAILED_PRECONDITION.withDescription(field + ": model " + r.getModel()
                    + " is served without a tokenizer; send token_ids").asException();
        }
        return codec;
    }

    private static SamplingParams sampling(GenerateRequest r) throws StatusException {
        var s = r.getSampling();
        SamplingParams d = SamplingParams.GREEDY;
        try {
            if (s.hasTopK() && s.getTopK() < 0) {
                throw new IllegalArgumentException("top_k = " + Integer.toUnsignedString(s.getTopK()) + " is too large");
            }
            return new SamplingParams(
                    s.hasTemperature() ? s.getTemperature() : d.temperature(),
                    s.hasTopK() ? s.getTopK() : d.topK(),
                    s.hasTopP() ? s.getTopP() : d.topP(),
                    s.hasMinP() ? s.getMinP() : d.minP(),
                    s.hasRepetitionPenalty() ? s.getRepetitionPenalty() : d.repetitionPenalty(),
                    s.hasPresencePenalty() ? s.getPresencePenalty() : d.presencePenalty(),
                    s.hasFrequencyPenalty() ? s.getFrequencyPenalty() : d.frequencyPenalty(),
                    s.hasSeed() ? Long.valueOf(s.getSeed()) : null);
        } catch (IllegalArgumentException e) {
            // The engine names the field ("top_p = 1.5 must be in (0, 1]"); say where it sits.
            throw invalid("sampling." + e.getMessage());
        }
    }

    private String served() {
        List<String> ids = view.models().stream().map(m -> m.spec().id()).toList();
        return ids.isEmpty() ? "(none)" : String.join(", ", ids);
    }

    private static StatusException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asException();
    }
}
