package dev.shardlight.gateway.openai;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shardlight.proto.v1.Delta;
import dev.shardlight.proto.v1.FinishReason;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.TokenLogprob;
import dev.shardlight.proto.v1.TopLogprob;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static dev.shardlight.gateway.openai.OpenAiHttpServer.JSON;

/** Builds the response objects of one request, chat or completion, whole or streamed. */
final class OpenAiReply {
    static String finishReason(FinishReason r) {
        return switch (r) {
            case FINISH_REASON_LENGTH -> "length";
            default -> "stop";
        };
    }

    static ObjectNode usage(Finished f) {
        ObjectNode u = JSON.createObjectNode();
        int p = f.getUsage().getPromptTokens();
        int c = f.getUsage().getCompletionTokens();
        u.put("prompt_tokens", p).put("completion_tokens", c).put("total_tokens", p + c);
        u.putObject("prompt_tokens_details").put("cached_tokens", f.getUsage().getCachedTokens());
        return u;
    }

    final boolean chat;
    final OpenAiRequests.Translated t;
    final String id;
    final long created;
    final String model;
    private final ArrayNode chatLogprobs = JSON.createArrayNode();
    private final ObjectNode completionLogprobs = JSON.createObjectNode();
    private int textOffset;

    OpenAiReply(boolean chat, OpenAiRequests.Translated t, String id, long created, String model) {
        this.chat = chat;
        this.t = t;
        this.id = id;
        this.created = created;
        this.model = model;
        completionLogprobs.putArray("tokens");
        completionLogprobs.putArray("token_logprobs");
        completionLogprobs.putArray("top_logprobs");
        completionLogprobs.putArray("text_offset");
    }

    ObjectNode base(boolean chunk) {
        return JSON.createObjectNode().put("id", id)
                .put("object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion")
                .put("created", created).put("model", model);
    }

    void addLogprobs(Delta d) {
        if (t.topLogprobs() < 0) {
            return;
        }
        for (TokenLogprob lp : d.getLogprobsList()) {
            if (chat) {
                ObjectNode o = tokenNode(lp.getToken(), lp.getLogprob());
                ArrayNode tops = o.putArray("top_logprobs");
                for (int k = 0; k < Math.min(t.topLogprobs(), lp.getTopCount()); k++) {
                    TopLogprob top = lp.getTop(k);
                    tops.add(tokenNode(top.getToken(), top.getLogprob()));
                }
                chatLogprobs.add(o);
            } else {
                ((ArrayNode) completionLogprobs.get("tokens")).add(lp.getToken());
                ((ArrayNode) completionLogprobs.get("token_logprobs")).add(lp.getLogprob());
                ObjectNode tops = JSON.createObjectNode();
                for (int k = 0; k < Math.min(t.topLogprobs(), lp.getTopCount()); k++) {
                    tops.put(lp.getTop(k).getToken(), lp.getTop(k).getLogprob());
                }
                ((ArrayNode) completionLogprobs.get("top_logprobs")).add(tops);
                ((ArrayNode) completionLogprobs.get("text_offset")).add(textOffset);
                textOffset += lp.getToken().length();
            }
        }
    }

    private static ObjectNode tokenNode(String token, float logprob) {
        ObjectNode o = JSON.createObjectNode().put("token", token).put("logprob", logprob);
        ArrayNode bytes = o.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        return o;
    }

    /** The logprobs gathered since the last call (null when none were asked for), then starts afresh. */
    private ObjectNode takeLogprobs() {
        if (t.topLogprobs() < 0 || (chat ? chatLogprobs.isEmpty() : completionLogprobs.get("tokens").isEmpty())) {
            return null;
        }
        ObjectNode out;
        if (chat) {
            out = JSON.createObjectNode();
            out.set("content", chatLogprobs.deepCopy());
            chatLogprobs.removeAll();
        } else {
            out = completionLogprobs.deepCopy();
            completionLogprobs.fieldNames().forEachRemaining(n -> ((ArrayNode) completionLogprobs.get(n)).removeAll());
        }
        return out;
    }

    ObjectNode whole(String text, List<ObjectNode> toolCalls, Finished f) {
        ObjectNode o = base(false);
        ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
        if (chat) {
            ObjectNode message = choice.putObject("message").put("role", "assistant");
            if (toolCalls.isEmpty()) {
                message.put("content", text);
            } else {
                message.putNull("content");
                message.putArray("tool_calls").addAll(toolCalls);
            }
            message.putNull("refusal");
        } else {
            choice.put("text", text);
        }
        choice.set("logprobs", takeLogprobs());
        choice.put("finish_reason", toolCalls.isEmpty() ? finishReason(f.getReason()) : "tool_calls");
        o.set("usage", usage(f));
        return o;
    }

    ObjectNode chunk(String text, Delta d, String finish, boolean first) {
        ObjectNode o = base(true);
        ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
        if (d != null) {
            addLogprobs(d);
        }
        if (chat) {
            ObjectNode delta = choice.putObject("delta");
            if (first) {
                delta.put("role", "assistant");
            }
            if (finish == null) {
                delta.put("content", text);
            }
        } else {
            choice.put("text", text);
        }
        choice.set("logprobs", finish != null ? null : takeLogprobs());
        if (finish == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finish);
        }
        if (t.includeUsage()) {
            o.putNull("usage");
        }
        return o;
    }
}
