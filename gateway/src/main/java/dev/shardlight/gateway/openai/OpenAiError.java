package dev.shardlight.gateway.openai;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An error as OpenAI's API reports it: HTTP status plus {@code {"error": {"message", "type",
 * "param", "code"}}}. Refusals of the shared gRPC path ({@link #fromGrpc}) keep their message and
 * get the status and parameter name an OpenAI client expects; a {@code google.rpc.RetryInfo} in
 * their status details (grpc-status-details-bin) sets Retry-After.
 */
public final class OpenAiError extends RuntimeException {
    private static final Pattern FIELD = Pattern.compile("^([a-z_]+(?:\\.[a-z_]+)*)");

    final int status;
    final String type;
    final String param;
    final String code;
    /** Seconds for a Retry-After header; 0: none. */
    final int retryAfterSeconds;
    /** The status the gRPC service counted this under in shardlight_requests_total; null: nobody counted it yet. */
    Status.Code countedAs;

    OpenAiError(int status, String type, String message, String param, String code, int retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** Marks this error as already counted by the gRPC service (under {@code code}). */
    OpenAiError countedBy(Status.Code code) {
        this.countedAs = code;
        return this;
    }

    /** The gRPC status this HTTP status stands for, as the request metric labels gRPC refusals. */
    Status.Code grpcEquivalent() {
        return switch (status) {
            case 400 -> Status.Code.INVALID_ARGUMENT;
            case 401 -> Status.Code.UNAUTHENTICATED;
            case 403 -> Status.Code.PERMISSION_DENIED;
            case 404 -> Status.Code.NOT_FOUND;
            case 405 -> Status.Code.UNIMPLEMENTED;
            // gRPC's own status for a message over the size limit
            case 413, 429 -> Status.Code.RESOURCE_EXHAUSTED;
            case 503 -> Status.Code.UNAVAILABLE;
            case 504 -> Status.Code.DEADLINE_EXCEEDED;
            default -> Status.Code.INTERNAL;
        };
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
        OpenAiError mapped = map(s, retryAfterSeconds(e), inputParam);
        // the Tenants interceptor refuses unknown keys before the service, which counts everything else
        return s.getCode() == Status.Code.UNAUTHENTICATED ? mapped : mapped.countedBy(s.getCode());
    }

    /** @param retryAfter seconds from the status's RetryInfo, 0 when it has none */
    private static OpenAiError map(Status s, int retryAfter, String inputParam) {
        String msg = s.getDescription() == null ? s.getCode().name() : s.getDescription();
        int retry = retryAfter > 0 ? retryAfter : 1;
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
                    ? new OpenAiError(503, "overloaded_error", msg, null, "overloaded", retry)
                    : new OpenAiError(429, "rate_limit_error", msg, null, "rate_limit_exceeded", retry);
            case UNAVAILABLE -> new OpenAiError(503, "service_unavailable_error", msg, null, "unavailable", retry);
            case DEADLINE_EXCEEDED -> new OpenAiError(504, "timeout_error", msg, null, "timeout", 0);
            default -> new OpenAiError(500, "server_error", msg, null, s.getCode().name().toLowerCase(java.util.Locale.ROOT), 0);
        };
    }

    /**
     * Whole seconds, rounded up (at least 1), of the {@code google.rpc.RetryInfo} retry delay in the
     * call's status details; 0 when there is none (or it cannot be read).
     */
    static int retryAfterSeconds(StatusRuntimeException e) {
        com.google.rpc.Status details = StatusProto.fromThrowable(e);
        if (details == null) {
            return 0;
        }
        for (Any any : details.getDetailsList()) {
            if (any.is(RetryInfo.class)) {
                try {
                    com.google.protobuf.Duration d = any.unpack(RetryInfo.class).getRetryDelay();
                    long seconds = d.getSeconds() + (d.getNanos() > 0 ? 1 : 0);
                    return (int) Math.max(1, Math.min(seconds, Integer.MAX_VALUE));
                } catch (InvalidProtocolBufferException bad) {
                    return 0;
                }
            }
        }
        return 0;
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
