package dev.shardlight.gateway.openai;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An error as OpenAI's API reports it: HTTP status plus {@code {"error": {"message", "type",
 * "param", "code"}}}. Refusals of the shared gRPC path ({@link #fromGrpc}) keep their message and
 * get the status and parameter name an OpenAI client expects.
 */
public final class OpenAiError extends RuntimeException {
    private static final Pattern FIELD = Pattern.compile("^([a-z_]+(?:\\.[a-z_]+)*)");

    final int status;
    final String type;
    final String param;
    final String code;
    /** Seconds for a Retry-After header; 0: none. */
    final int retryAfterSeconds;

    OpenAiError(int status, String type, String message, String param, String code, int retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    static OpenAiError invalid(String param, String message) {
        return new OpenAiError(400, "invalid_request_error", message, param, null, 0);
    }

    static OpenAiError unsupported(String param, String message) {
        return new OpenAiError(400, "invalid_request_error", message, param, "unsupported_parameter", 0);
    }

    /**
     * Maps a refusal of the gRPC path to its HTTP form.
     *
     * @param inputParam the OpenAI field holding the prompt ("messages" or "prompt")
     */
    static OpenAiError fromGrpc(StatusRuntimeException e, String inputParam) {
        Status s = e.getStatus();
        String msg = s.getDescription() == null ? s.getCode().name() : s.getDescription();
        return switch (s.getCode()) {
            case INVALID_ARGUMENT -> msg.contains("exceeds the context length")
                    ? new OpenAiError(400, "invalid_request_error", msg, inputParam, "context_length_exceeded", 0)
                    : new OpenAiError(400, "invalid_request_error", msg, param(msg, inputParam), null, 0);
            case FAILED_PRECONDITION -> new OpenAiError(400, "invalid_request_error", msg, param(msg, inputParam), null, 0);
            case NOT_FOUND -> new OpenAiError(404, "invalid_request_error", msg, "model", "model_not_found", 0);
            case UNAUTHENTICATED -> new OpenAiError(401, "invalid_request_error", msg, null, "invalid_api_key", 0);
            case PERMISSION_DENIED -> new OpenAiError(403, "permission_error", msg, null, "permission_denied", 0);
            // every replica's queue is full: the cluster is overloaded; anything else exhausted is a rate limit
            case RESOURCE_EXHAUSTED -> msg.contains("full queue")
                    ? new OpenAiError(503, "overloaded_error", msg, null, "overloaded", 1)
                    : new OpenAiError(429, "rate_limit_error", msg, null, "rate_limit_exceeded", 1);
            case UNAVAILABLE -> new OpenAiError(503, "service_unavailable_error", msg, null, "unavailable", 1);
            case DEADLINE_EXCEEDED -> new OpenAiError(504, "timeout_error", msg, null, "timeout", 0);
            default -> new OpenAiError(500, "server_error", msg, null, s.getCode().name().toLowerCase(java.util.Locale.ROOT), 0);
        };
    }

    /** The OpenAI name of the field a gRPC message starts with ("sampling.top_p = 2 ..." → "top_p"). */
    static String param(String message, String inputParam) {
        Matcher m = FIELD.matcher(message);
        if (!m.find()) {
            return null;
        }
        String[] parts = m.group(1).split("\\.");
        return switch (parts[0]) {
            case "sampling" -> parts.length > 1 ? parts[1] : null;
            case "chat" -> parts.length > 1 && parts[1].equals("tools") ? "tools" : "messages";
            case "text", "token_ids", "input", "prompt" -> inputParam;
            case "logprobs" -> inputParam.equals("messages") ? "top_logprobs" : "logprobs";
            case "stop", "model", "max_tokens", "seed", "temperature", "top_p" -> parts[0];
            default -> null;
        };
    }
}
