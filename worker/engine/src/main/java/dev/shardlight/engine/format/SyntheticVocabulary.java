package dev.shardlight.engine.format;

import dev.shardlight.engine.model.Architecture;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The tokenizer section of a random-weight GGUF: the real vocabulary size, the real special
 * tokens at their real ids, and synthetic pieces {@code <t123>} everywhere else, so the serving
 * path (BOS, stop tokens, chat template, decoding) works while no real text is reproduced.
 *
 * <p>Gemma 3 ({@code tokenizer.ggml.model = "llama"}, SentencePiece): 0 {@code <pad>}, 1 {@code <eos>},
 * 2 {@code <bos>}, 3 {@code <unk>}, 4 {@code <mask>}, 5 {@code [multimodal]}, 105
 * {@code <start_of_turn>}, 106 {@code <end_of_turn>}, 255999 {@code <start_of_image>}, 256000
 * {@code <end_of_image>}; byte pieces {@code <0x00>..<0xFF>} at 107..362 (a synthetic placement)
 * give byte fallback for any text.
 *
 * <p>Llama 3 ({@code "gpt2"}, byte-level BPE): ids 0..255 are the 256 single-byte tokens in GPT-2's
 * byte-to-unicode order (as Llama 3's are), the last 256 ids are the specials
 * ({@code <|begin_of_text|>} 128000 … {@code <|eot_id|>} 128009 …), no merges.
 */
final class SyntheticVocabulary {

    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int BYTE = 6;

    static final int GEMMA_BYTE_PIECES = 107;

    /** Gemma 3's chat template (transformers convert_gemma3_weights.py _CHAT_TEMPLATE, models.md §4.2), one statement a line. */
    static final String GEMMA_CHAT_TEMPLATE = """
            {{ bos_token }}
            {%- if messages[0]['role'] == 'system' -%}
                {%- if messages[0]['content'] is string -%}
                    {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
                {%- else -%}
                    {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
                {%- endif -%}
                {%- set loop_messages = messages[1:] -%}
            {%- else -%}
                {%- set first_user_prefix = "" -%}
                {%- set loop_messages = messages -%}
            {%- endif -%}
            {%- for message in loop_messages -%}
                {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
                    {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
                {%- endif -%}
                {%- if (message['role'] == 'assistant') -%}
                    {%- set role = "model" -%}
                {%- else -%}
                    {%- set role = message['role'] -%}
                {%- endif -%}
                {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
                {%- if message['content'] is string -%}
                    {{ message['content'] | trim }}
                {%- elif message['content'] is iterable -%}
                    {%- for item in message['content'] -%}
                        {%- if item['type'] == 'image' -%}
                            {{ '<start_of_image>' }}
                        {%- elif item['type'] == 'text' -%}
                            {{ item['text'] | trim }}
                        {%- endif -%}
                    {%- endfor -%}
                {%- else -%}
                    {{ raise_exception("Invalid content type") }}
                {%- endif -%}
                {{ '<end_of_turn>\\n' }}
            {%- endfor -%}
            {%- if add_generation_prompt -%}
                {{'<start_of_turn>model\\n'}}
            {%- endif -%}
            """;

    /**
     * Llama 3.2 Instruct's template without the tool-calling branches and with its fixed date
     * fallback: it renders the same text as the published template for plain chats (models.md §4.4).
     */
    static final String LLAMA_CHAT_TEMPLATE = """
            {{- bos_token }}
            {%- if messages[0]['role'] == 'system' %}
                {%- set system_message = messages[0]['content']|trim %}
                {%- set messages = messages[1:] %}
            {%- else %}
                {%- set system_message = "" %}
            {%- endif %}
            {%- if not date_string is defined %}
                {%- set date_string = "26 Jul 2024" %}
            {%- endif %}
            {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
            {{- "Cutting Knowledge Date: December 2023\\n" }}
            {{- "Today Date: " + date_string + "\\n\\n" }}
            {{- system_message }}
            {{- "<|eot_id|>" }}
            {%- for message in messages %}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
            {%- endif %}
            """;

    private static final String[] LLAMA_NAMED_SPECIALS = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};

    private SyntheticVocabulary() {
    }

    static void put(GgufWriter w, ModelShape shape) {
        if (shape.architecture() == Architecture.GEMMA3) {
            putGemma(w, shape);
        } else {
            putLlama(w, shape);
        }
    }

    /** As Gemma3Model.set_vocab (_set_vocab_sentencepiece, add_space_prefix False) writes it. */
    private static void putGemma(GgufWriter w, ModelShape shape) {
        int n = shape.vocabSize();
        List<String> tokens = new ArrayList<>(n);
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            tokens.add("<t" + i + ">");
            scores[i] = -i;
            types[i] = NORMAL;
        }
        String[] control = {"<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "[multimodal]"};
        for (int i = 0; i < control.length; i++) {
            special(tokens, scores, types, i, control[i], i == 3 ? UNKNOWN : i < 3 ? CONTROL : USER_DEFINED);
        }
        special(tokens, scores, types, 105, "<start_of_turn>", USER_DEFINED);
        special(tokens, scores, types, 106, "<end_of_turn>", USER_DEFINED);
        if (n > 256000) {
            special(tokens, scores, types, 255999, "<start_of_image>", USER_DEFINED);
            special(tokens, scores, types, 256000, "<end_of_image>", USER_DEFINED);
        }
        for (int b = 0; b < 256; b++) {
            tokens.set(GEMMA_BYTE_PIECES + b, String.format("<0x%02X>", b));
            scores[GEMMA_BYTE_PIECES + b] = 0f;
            types[GEMMA_BYTE_PIECES + b] = BYTE;
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.putString("tokenizer.ggml.pre", "default");
        w.putStrings("tokenizer.ggml.tokens", tokens);
        w.putFloat32s("tokenizer.ggml.scores", scores);
        w.putInt32s("tokenizer.ggml.token_type", types);
        w.putUint32("tokenizer.ggml.bos_token_id", shape.bosId());
        w.putUint32("tokenizer.ggml.eos_token_id", 1);
        w.putUint32("tokenizer.ggml.unknown_token_id", 3);
        w.putUint32("tokenizer.ggml.padding_token_id", 0);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
        w.putBool("tokenizer.ggml.add_space_prefix", false);
        w.putString("tokenizer.chat_template", GEMMA_CHAT_TEMPLATE.strip());
    }

    /** As LlamaModel._set_vocab_gpt2 writes it (tokens, token_type, merges; no scores), Instruct ids. */
    private static void putLlama(GgufWriter w, ModelShape shape) {
        int n = shape.vocabSize();
        int firstSpecial = n - ModelShape.LLAMA_SPECIAL_TOKENS;
        List<String> tokens = new ArrayList<>(n);
        int[] types = new int[n];
        Arrays.fill(types, NORMAL);
        int[] byteOrder = gpt2ByteOrder();
        for (int i = 0; i < n; i++) {
            if (i < 256) {
                tokens.add(Character.toString(gpt2Char(byteOrder[i])));
            } else if (i < firstSpecial) {
                tokens.add("<t" + i + ">");
            } else {
                int k = i - firstSpecial;
                tokens.add(k < LLAMA_NAMED_SPECIALS.length ? LLAMA_NAMED_SPECIALS[k] : "<|reserved_special_token_" + (k - 8) + "|>");
                types[i] = CONTROL;
            }
        }
        w.putString("tokenizer.ggml.model", "gpt2");
        w.putString("tokenizer.ggml.pre", "llama-bpe");
        w.putStrings("tokenizer.ggml.tokens", tokens);
        w.putInt32s("tokenizer.ggml.token_type", types);
        w.putStrings("tokenizer.ggml.merges", List.of());
        w.putUint32("tokenizer.ggml.bos_token_id", shape.bosId());
        w.putUint32("tokenizer.ggml.eos_token_id", firstSpecial + 9);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putString("tokenizer.chat_template", LLAMA_CHAT_TEMPLATE.strip());
    }

    private static void special(List<String> tokens, float[] scores, int[] types, int id, String text, int type) {
        if (id < tokens.size()) {
            tokens.set(id, text);
            scores[id] = type == USER_DEFINED ? 0f : -1000f;
            types[id] = type;
        }
    }

    /** GPT-2 bytes_to_unicode: printable bytes first in byte order, then the others. */
    static int[] gpt2ByteOrder() {
        int[] order = new int[256];
        int k = 0;
        for (int b = 0; b < 256; b++) {
            if (printable(b)) {
                order[k++] = b;
            }
        }
        for (int b = 0; b < 256; b++) {
            if (!printable(b)) {
                order[k++] = b;
            }
        }
        return order;
    }

    /** The unicode character GPT-2's byte-level BPE uses for byte {@code b} (space is 'Ġ'). */
    static int gpt2Char(int b) {
        if (printable(b)) {
            return b;
        }
        int n = 0;
        for (int x = 0; x < b; x++) {
            if (!printable(x)) {
                n++;
            }
        }
        return 256 + n;
    }

    private static boolean printable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }
}
