package dev.shardlight.tokenizer.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** The service's error statuses; every message names the field and the value at fault. */
final class Errors {
    /** Values quoted in messages are cut here, so an error never echoes a megabyte back. */
    private static final int QUOTE_CHARS = 80;

    private Errors() {
    }

    static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }

    /**
     * Over-size requests are INVALID_ARGUMENT, not RESOURCE_EXHAUSTED: the limit is a property of
     * the request, so retrying it (what clients do on RESOURCE_EXHAUSTED) cannot succeed.
     */
    static void checkSize(String field, long size, long limit, String unit) {
        if (size > limit) {
            throw invalid(field + ": " + size + " " + unit + " exceeds this server's limit of " + limit + " " + unit);
        }
    }

    static void checkSize(String field, long utf8Bytes, long limit) {
        checkSize(field, utf8Bytes, limit, "bytes of UTF-8");
    }

    static String quote(String value) {
        String cut = value.length() <= QUOTE_CHARS ? value : value.substring(0, QUOTE_CHARS) + "…";
        return "\"" + cut + "\"";
    }
}
