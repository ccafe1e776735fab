package dev.shardlight.tokenizer;

/**
 * A chat template could not be rendered: the template raised an error (raise_exception, e.g.
 * "Conversation roles must alternate"), or it uses a construct the Jinja engine lacks.
 */
public class ChatTemplateException extends RuntimeException {
    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
