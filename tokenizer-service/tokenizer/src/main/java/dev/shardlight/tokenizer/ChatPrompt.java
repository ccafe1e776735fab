package dev.shardlight.tokenizer;

/**
 * A rendered chat prompt: the text exactly as transformers' {@code apply_chat_template} renders
 * it, and its ids, in which only the template's own markers are control tokens.
 */
public record ChatPrompt(String text, int[] ids) {
}
