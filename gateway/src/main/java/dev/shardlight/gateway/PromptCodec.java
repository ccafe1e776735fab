package dev.shardlight.gateway;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Text ↔ token ids for one model, where text is produced for the client (the gateway): encodes
 * text and chat input, and decodes streamed ids incrementally. The tokenizer library plugs in
 * behind this; a model served without one accepts token ids only.
 */
public interface PromptCodec {

    /** Encodes plain text; adds BOS when the model wants one. */
    int[] encode(String text);

    /**
     * Renders {@code messages} (maps with "role", "content", optional "tool_call_id") with the
     * model's chat template, with the generation prompt appended, and encodes the result.
     *
     * @throws IllegalArgumentException when the template refuses the conversation (the message says why)
     */
    int[] encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools);

    /** One token's own text, decoded alone (for logprobs); "" when unknown. */
    default String tokenText(int id) {
        return "";
    }

    /** A fresh decoder for one stream. */
    Decoder newDecoder();

    interface Decoder {
        /** Text made visible by one more id (may be empty mid UTF-8 sequence). */
        String next(int id);

        /** Whatever text is still held back at the end of the stream. */
        String finish();
    }

    /** Finds the codec of a served model. */
    @FunctionalInterface
    interface Registry {
        Optional<PromptCodec> forModel(String modelId);

        static Registry none() {
            return id -> Optional.empty();
        }
    }
}
