package dev.shardlight.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shardlight.proto.v1.Chat;
import dev.shardlight.proto.v1.ChatMessage;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.SamplingParams;
import dev.shardlight.proto.v1.TokenIds;
import dev.shardlight.proto.v1.Tool;

import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * OpenAI request bodies → the {@link GenerateRequest} a gRPC client would send. Only the shape is
 * checked here (types, fields the path does not support yet); ranges, the model, the context and
 * the tenant are left to the gateway's own validation, so both doors refuse alike.
 */
final class OpenAiRequests {
    /** Most alternatives per token (the gRPC path's limit). */
    static final int MAX_TOP_LOGPROBS = 20;

    private OpenAiRequests() {
    }

    /**
     * A translated request.
     *
     * @param topLogprobs -1: no logprobs; otherwise alternatives to report per token (0 = the chosen token only)
     * @param toolNames   tools the model may call (output that calls one becomes tool_calls); empty: none
     */
    record Translated(GenerateRequest request, boolean stream, boolean includeUsage, int topLogprobs, Set<String> toolNames) {
    }

    static Translated chat(JsonNode body, String requestId) {
        GenerateRequest.Builder r = common(body, requestId, false);
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw OpenAiError.invalid("messages", "messages: a non-empty array of messages is required");
        }
        Chat.Builder chat = Chat.newBuilder();
        for (int i = 0; i < messages.size(); i++) {
            chat.addMessages(message(messages.get(i), "messages[" + i + "]"));
        }
        String toolChoice = toolChoice(body.get("tool_choice"));
        JsonNode tools = body.get("tools");
        if (tools != null && !tools.isNull() && !"none".equals(toolChoice)) {
            if (!tools.isArray()) {
                throw OpenAiError.invalid("tools", "tools: must be an array");
            }
            for (int i = 0; i < tools.size(); i++) {
                chat.addTools(tool(tools.get(i), "tools[" + i + "]"));
            }
        }
        r.setChat(chat);
        int top = -1;
        if (bool(body, "logprobs", false)) {
            Long k = integer(body, "top_logprobs");
            top = k == null ? 0 : (int) range("top_logprobs", k, 0, MAX_TOP_LOGPROBS);
        } else if (integer(body, "top_logprobs") != null) {
            throw OpenAiError.invalid("top_logprobs", "top_logprobs: needs logprobs = true");
        }
        Set<String> names = new LinkedHashSet<>();
        chat.getToolsList().forEach(x -> names.add(x.getName()));
        return finish(r, body, top, names);
    }

    static Translated completion(JsonNode body, String requestId) {
        GenerateRequest.Builder r = common(body, requestId, true);
        JsonNode prompt = body.get("prompt");
        if (prompt == null || prompt.isNull()) {
            throw OpenAiError.invalid("prompt", "prompt: required");
        }
        if (prompt.isTextual()) {
            r.setText(prompt.asText());
        } else if (prompt.isArray() && !prompt.isEmpty()) {
            JsonNode first = prompt.get(0);
            if (first.isTextual() || first.isArray()) {
                if (prompt.size() > 1) {
                    throw OpenAiError.unsupported("prompt", "prompt: a batch of " + prompt.size()
                            + " prompts; send one prompt per request");
                }
                if (first.isTextual()) {
                    r.setText(first.asText());
                } else {
                    r.setTokenIds(tokenIds(first));
                }
            } else {
                r.setTokenIds(tokenIds(prompt));
            }
        } else {
            throw OpenAiError.invalid("prompt", "prompt: a string, an array of token ids, or an array with one of either");
        }
        if (bool(body, "echo", false)) {
            throw OpenAiError.unsupported("echo", "echo: not supported");
        }
        JsonNode suffix = body.get("suffix");
        if (suffix != null && !suffix.isNull() && !suffix.asText().isEmpty()) {
            throw OpenAiError.unsupported("suffix", "suffix: not supported");
        }
        Long bestOf = integer(body, "best_of");
        if (bestOf != null && bestOf != 1) {
            throw OpenAiError.unsupported("best_of", "best_of = " + bestOf + ": only best_of = 1 is supported");
        }
        Long lp = integer(body, "logprobs");
        int top = lp == null ? -1 : (int) range("logprobs", lp, 0, MAX_TOP_LOGPROBS);
        return finish(r, body, top, Set.of());
    }

    private static Translated finish(GenerateRequest.Builder r, JsonNode body, int top, Set<String> toolNames) {
        if (top >= 0) {
            r.setLogprobs(Math.max(1, top)); // the path always reports >= 1 alternative; trimmed on the way out
        }
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) {
                throw OpenAiError.invalid("stream_options", "stream_options: must be an object");
            }
            includeUsage = bool(so, "include_usage", false, "stream_options.include_usage");
        }
        return new Translated(r.build(), stream, includeUsage, top, Set.copyOf(toolNames));
    }

    /** Fields both endpoints share. */
    private static GenerateRequest.Builder common(JsonNode body, String requestId, boolean completions) {
        GenerateRequest.Builder r = GenerateRequest.newBuilder().setRequestId(requestId);
        JsonNode model = body.get("model");
        if (model == null || !model.isTextual() || model.asText().isEmpty()) {
            throw OpenAiError.invalid("model", "model: required (a model id from GET /v1/models)");
        }
        r.setModel(model.asText());
        Long n = integer(body, "n");
        if (n != null && n != 1) {
            throw OpenAiError.unsupported("n", "n = " + n + ": only n = 1 is supported; send one request per choice");
        }
        Long maxTokens = integer(body, completions ? "max_tokens" : "max_completion_tokens");
        if (maxTokens == null && !completions) {
            maxTokens = integer(body, "max_tokens");
        }
        if (maxTokens != null) {
            String name = body.has("max_completion_tokens") && !completions ? "max_completion_tokens" : "max_tokens";
            r.setMaxTokens((int) range(name, maxTokens, 1, Integer.MAX_VALUE));
        }
        SamplingParams.Builder s = SamplingParams.newBuilder();
        Double v;
        if ((v = number(body, "temperature")) != null) {
            s.setTemperature(v.floatValue());
        }
        if ((v = number(body, "top_p")) != null) {
            s.setTopP(v.floatValue());
        }
        if ((v = number(body, "min_p")) != null) {
            s.setMinP(v.floatValue());
        }
        if ((v = number(body, "repetition_penalty")) != null) {
            s.setRepetitionPenalty(v.floatValue());
        }
        if ((v = number(body, "presence_penalty")) != null) {
            s.setPresencePenalty(v.floatValue());
        }
        if ((v = number(body, "frequency_penalty")) != null) {
            s.setFrequencyPenalty(v.floatValue());
        }
        Long k = integer(body, "top_k");
        if (k != null) {
            s.setTopK(k == -1 ? 0 : (int) range("top_k", k, 0, Integer.MAX_VALUE)); // -1 disables, as in vLLM
        }
        Long seed = integer(body, "seed");
        if (seed != null) {
            s.setSeed(seed);
        }
        r.setSampling(s);
        JsonNode stop = body.get("stop");
        if (stop != null && !stop.isNull()) {
            if (stop.isTextual()) {
                r.addStop(stop.asText());
            } else if (stop.isArray()) {
                for (JsonNode x : stop) {
                    if (!x.isTextual()) {
                        throw OpenAiError.invalid("stop", "stop: a string or an array of strings");
                    }
                    r.addStop(x.asText());
                }
            } else {
                throw OpenAiError.invalid("stop", "stop: a string or an array of strings");
            }
        }
        JsonNode format = body.get("response_format");
        if (format != null && !format.isNull()) {
            String type = format.path("type").asText("");
            if (!type.equals("text")) {
                throw OpenAiError.unsupported("response_format", "response_format type \"" + type
                        + "\" is not implemented yet (needs constrained decoding); only \"text\" is accepted");
            }
        }
        JsonNode bias = body.get("logit_bias");
        if (bias != null && !bias.isNull() && !bias.isEmpty()) {
            throw OpenAiError.unsupported("logit_bias", "logit_bias: not supported");
        }
        JsonNode user = body.get("user");
        if (user != null && !user.isNull() && !user.isTextual()) {
            throw OpenAiError.invalid("user", "user: must be a string");
        }
        return r;
    }

    private static ChatMessage message(JsonNode m, String where) {
        if (m == null || !m.isObject()) {
            throw OpenAiError.invalid("messages", where + ": must be an object");
        }
        String role = m.path("role").asText("");
        if (role.equals("developer")) {
            role = "system"; // OpenAI's newer name for the system role
        }
        ChatMessage.Builder b = ChatMessage.newBuilder().setRole(role);
        JsonNode content = m.get("content");
        StringBuilder text = new StringBuilder();
        if (content == null || content.isNull()) {
            // an assistant turn that only called tools: keep the calls in the transcript as JSON
            JsonNode calls = m.get("tool_calls");
            if (calls != null && calls.isArray() && !calls.isEmpty()) {
                StringBuilder json = new StringBuilder();
                for (JsonNode c : calls) {
                    JsonNode f = c.path("function");
                    json.append(json.isEmpty() ? "" : "\n").append("{\"name\": ")
                            .append(OpenAiHttpServer.JSON.valueToTree(f.path("name").asText()).toString())
                            .append(", \"parameters\": ").append(f.path("arguments").asText("{}")).append('}');
                }
                text.append(json);
            }
        } else if (content.isTextual()) {
            text.append(content.asText());
        } else if (content.isArray()) {
            for (int j = 0; j < content.size(); j++) {
                JsonNode part = content.get(j);
                String type = part.path("type").asText("");
                if (!type.equals("text")) {
                    throw OpenAiError.unsupported("messages", where + ".content[" + j + "]: type \"" + type
                            + "\" is not supported; only text parts");
                }
                text.append(part.path("text").asText(""));
            }
        } else {
            throw OpenAiError.invalid("messages", where + ".content: a string or an array of text parts");
        }
        b.setContent(text.toString());
        JsonNode id = m.get("tool_call_id");
        if (id != null && id.isTextual()) {
            b.setToolCallId(id.asText());
        }
        return b.build();
    }

    private static Tool tool(JsonNode t, String where) {
        if (t == null || !t.isObject() || !"function".equals(t.path("type").asText())) {
            throw OpenAiError.invalid("tools", where + ": {\"type\": \"function\", \"function\": {...}} expected");
        }
        JsonNode f = t.path("function");
        String name = f.path("name").asText("");
        if (name.isEmpty()) {
            throw OpenAiError.invalid("tools", where + ".function.name: required");
        }
        JsonNode params = f.get("parameters");
        return Tool.newBuilder().setName(name).setDescription(f.path("description").asText(""))
                .setParametersJson(params == null || params.isNull() ? "{}" : params.toString()).build();
    }

    private static String toolChoice(JsonNode c) {
        if (c == null || c.isNull()) {
            return "auto";
        }
        if (c.isTextual() && (c.asText().equals("auto") || c.asText().equals("none"))) {
            return c.asText();
        }
        throw OpenAiError.unsupported("tool_choice", "tool_choice: only \"auto\" and \"none\" are supported"
                + " (forcing a tool call needs constrained decoding)");
    }

    private static TokenIds tokenIds(JsonNode ids) {
        TokenIds.Builder t = TokenIds.newBuilder();
        for (Iterator<JsonNode> it = ids.elements(); it.hasNext(); ) {
            JsonNode id = it.next();
            if (!id.canConvertToLong() || !id.isIntegralNumber() || id.asLong() < 0 || id.asLong() > Integer.MAX_VALUE) {
                throw OpenAiError.invalid("prompt", "prompt: token ids must be non-negative integers");
            }
            t.addIds((int) id.asLong());
        }
        return t.build();
    }

    private static long range(String name, long v, long min, long max) {
        if (v < min || v > max) {
            throw OpenAiError.invalid(name, name + " = " + v + " is outside " + min + ".." + max);
        }
        return v;
    }

    private static Double number(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw OpenAiError.invalid(name, name + ": must be a number");
        }
        return v.asDouble();
    }

    private static Long integer(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber() || !v.canConvertToExactIntegral() || !v.canConvertToLong()) {
            throw OpenAiError.invalid(name, name + ": must be an integer");
        }
        return v.asLong();
    }

    private static boolean bool(JsonNode body, String name, boolean dflt) {
        return bool(body, name, dflt, name);
    }

    private static boolean bool(JsonNode body, String name, boolean dflt, String param) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw OpenAiError.invalid(param, param + ": must be true or false");
        }
        return v.asBoolean();
    }
}
