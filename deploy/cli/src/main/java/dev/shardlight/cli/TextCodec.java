package dev.shardlight.cli;

import dev.shardlight.engine.model.Model;

/**
 * Text ↔ ids for the CLI, when a tokenizer comes with the model. Returns null from
 * {@link #forModel} when none is available.
 */
interface TextCodec {
    int[] encodeWithBos(String text);

    String decode(int[] ids);

    /** Text made visible by one more streamed token (may be empty mid UTF-8 sequence). */
    String decodeIncrement(int id);

    static TextCodec forModel(Model model) {
        return null;
    }
}
