package dev.shardlight.engine.format;

/**
 * A model file or checkpoint that cannot be served as it is: wrong magic, unknown architecture,
 * missing tensor, wrong shape, unsupported tensor type. The message names the file and the item.
 */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
