package dev.shardlight.tokenizer.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.proto.v1.TokenizerChat;
import dev.shardlight.proto.v1.TokenizerChatMessage;
import dev.shardlight.tokenizer.ChatTemplate;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link TokenizerChat} as the template engine takes it: messages as the dicts transformers
 * passes to the template, and the rendering options. Checks what the template cannot: sizes,
 * empty roles, the JSON of the tools and the date.
 */
record ChatRequest(List<Map<String, Object>> messages, ChatTemplate.Options options) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<Map<String, Object>>> TOOLS = new TypeReference<>() {
    };

    /** @param field the request field holding the chat, for error messages ("chat") */
    static ChatRequest from(TokenizerChat chat, String field, RequestLimits limits) {
        if (chat.getMessagesCount() == 0) {
            throw Errors.invalid(field + ".messages: a chat needs at least one message");
        }
        long bytes = RequestLimits.utf8Length(chat.getToolsJson());
        List<Map<String, Object>> messages = new ArrayList<>(chat.getMessagesCount());
        for (int i = 0; i < chat.getMessagesCount(); i++) {
            TokenizerChatMessage m = chat.getMessages(i);
            if (m.getRole().isEmpty()) {
                throw Errors.invalid(field + ".messages[" + i + "].role: required (system, user, assistant or tool)");
            }
            bytes += RequestLimits.utf8Length(m.getRole()) + RequestLimits.utf8Length(m.getContent())
                    + RequestLimits.utf8Length(m.getToolCallId());
            Map<String, Object> message = new LinkedHashMap<>();
            message.put("role", m.getRole());
            message.put("content", m.getContent());
            if (!m.getToolCallId().isEmpty()) {
                message.put("tool_call_id", m.getToolCallId());
            }
            messages.add(message);
        }
        Errors.checkSize(field, bytes, limits.maxTextBytes());
        ChatTemplate.Options options = ChatTemplate.Options.defaults().withGenerationPrompt(chat.getAddGenerationPrompt());
        if (!chat.getToolsJson().isBlank()) {
            options = options.withTools(tools(chat.getToolsJson(), field + ".tools_json"));
        }
        if (!chat.getDate().isEmpty()) {
            options = options.withNow(date(chat.getDate(), field + ".date"));
        }
        return new ChatRequest(messages, options);
    }

    private static List<Map<String, Object>> tools(String json, String field) {
        try {
            List<Map<String, Object>> tools = JSON.readValue(json, TOOLS);
            if (tools == null || tools.contains(null)) {
                throw Errors.invalid(field + ": expected a JSON array of tool objects, got " + Errors.quote(json));
            }
            return tools;
        } catch (JsonProcessingException e) {
            throw Errors.invalid(field + ": expected a JSON array of tool objects, got " + Errors.quote(json)
                    + " (" + e.getOriginalMessage() + ")");
        }
    }

    private static LocalDateTime date(String text, String field) {
        try {
            return text.contains("T") ? LocalDateTime.parse(text) : LocalDate.parse(text).atStartOfDay();
        } catch (DateTimeParseException e) {
            throw Errors.invalid(field + ": expected an ISO-8601 date (2025-03-09) or local date-time (2025-03-09T14:30), got "
                    + Errors.quote(text));
        }
    }
}
