package dev.shardlight.gateway.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Tool calls in model output → OpenAI {@code tool_calls}. Understands the JSON function-call forms
 * Llama 3.2 and Gemma 3 are prompted to emit: an object {@code {"name": ..., "parameters"|"arguments": {...}}}
 * or an array of them, optionally after Llama's {@code <|python_tag|>} or inside a {@code ```json} /
 * {@code ```tool_code} fence. Only names of tools the request offered count; anything else is content.
 */
final class ToolCalls {
    private static final String PYTHON_TAG = "<|python_tag|>";

    private ToolCalls() {
    }

    /** Whether {@code text} (so far) may still turn into a tool call, so a stream should hold it back. */
    static boolean mayStart(String text) {
        String t = text.stripLeading();
        if (t.isEmpty()) {
            return true;
        }
        return t.startsWith("{") || t.startsWith("[") || t.startsWith("```")
                || t.startsWith(PYTHON_TAG) || PYTHON_TAG.startsWith(t) || "```".startsWith(t);
    }

    /** The calls in a complete output, or an empty list when it is not (only) tool calls. */
    static List<ObjectNode> parse(String text, Set<String> toolNames) {
        String t = text.strip();
        if (t.startsWith(PYTHON_TAG)) {
            t = t.substring(PYTHON_TAG.length()).strip();
        }
        if (t.startsWith("```")) {
            int nl = t.indexOf('\n');
            int end = t.lastIndexOf("```");
            if (nl < 0 || end <= nl) {
                return List.of();
            }
            t = t.substring(nl + 1, end).strip();
        }
        if (!(t.startsWith("{") || t.startsWith("["))) {
            return List.of();
        }
        JsonNode node;
        try {
            node = OpenAiHttpServer.JSON.readTree(t);
        } catch (Exception notJson) {
            return List.of();
        }
        List<JsonNode> items = new ArrayList<>();
        if (node.isArray()) {
            node.forEach(items::add);
        } else {
            items.add(node);
        }
        List<ObjectNode> calls = new ArrayList<>();
        for (JsonNode item : items) {
            JsonNode fn = item.has("function") && item.get("function").isObject() ? item.get("function") : item;
            String name = fn.path("name").asText("");
            JsonNode args = fn.has("parameters") ? fn.get("parameters") : fn.get("arguments");
            if (!toolNames.contains(name) || args == null) {
                return List.of();
            }
            ObjectNode call = OpenAiHttpServer.JSON.createObjectNode()
                    .put("id", "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24))
                    .put("type", "function");
            call.putObject("function").put("name", name).put("arguments", args.isTextual() ? args.asText() : args.toString());
            calls.add(call);
        }
        return calls;
    }

    /** The calls with their positions, as a streamed delta's {@code tool_calls}. */
    static ArrayNode indexed(List<ObjectNode> calls) {
        ArrayNode out = OpenAiHttpServer.JSON.createArrayNode();
        for (int i = 0; i < calls.size(); i++) {
            out.add(calls.get(i).deepCopy().put("index", i));
        }
        return out;
    }
}
