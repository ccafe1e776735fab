package dev.shardlight.tokenizer;

/** A tokenizer file or metadata block that Shardlight cannot load; the message says what and where. */
public class TokenizerFormatException extends RuntimeException {
    public TokenizerFormatException(String message) {
        super(message);
    }

    public TokenizerFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
