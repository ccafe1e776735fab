package dev.shardlight.gateway.openai;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** gRPC refusals → OpenAI statuses, codes, Retry-After and parameter names. */
class OpenAiErrorTest {
    static OpenAiError map(Status s, String input) {
        return OpenAiError.fromGrpc(s.asRuntimeException(), input);
    }

    @Test
    void statuses() {
        OpenAiError full = map(Status.RESOURCE_EXHAUSTED.withDescription("every replica of m has a full queue; retry later"), "messages");
        assertEquals(503, full.status);
        assertEquals(1, full.retryAfterSeconds);
        OpenAiError limited = map(Status.RESOURCE_EXHAUSTED.withDescription("tenant a is over its rate limit"), "messages");
        assertEquals(429, limited.status);
        assertEquals(1, limited.retryAfterSeconds);
        assertEquals(503, map(Status.UNAVAILABLE.withDescription("no replica"), "prompt").status);
        assertEquals(401, map(Status.UNAUTHENTICATED.withDescription("unknown API key"), "prompt").status);
        assertEquals(403, map(Status.PERMISSION_DENIED.withDescription("no"), "prompt").status);
        assertEquals(404, map(Status.NOT_FOUND.withDescription("model \"x\" is not served here"), "prompt").status);
        OpenAiError over = map(Status.INVALID_ARGUMENT.withDescription(
                "prompt (300 tokens) + max_tokens (10) = 310 exceeds the context length of m (256 tokens)"), "prompt");
        assertEquals(400, over.status);
        assertEquals("prompt", over.param);
        assertEquals("context_length_exceeded", over.code);
    }

    @Test
    void retryInfoInTheStatusDetailsSetsRetryAfter() {
        assertEquals(3, OpenAiError.fromGrpc(GrpcRefusalOverHttpTest.rateLimited(2, 1), "messages").retryAfterSeconds);
        assertEquals(7, OpenAiError.fromGrpc(GrpcRefusalOverHttpTest.rateLimited(7, 0), "messages").retryAfterSeconds);
        assertEquals(1, OpenAiError.fromGrpc(GrpcRefusalOverHttpTest.rateLimited(0, 0), "messages").retryAfterSeconds,
                "a zero delay still says when: at once, rounded to the 1 s Retry-After can say");
        assertEquals(0, OpenAiError.retryAfterSeconds(Status.RESOURCE_EXHAUSTED.asRuntimeException()));
    }

    @Test
    void gRpcRefusalsAreMarkedAsCountedByTheServiceButUnknownKeysAreNot() {
        assertEquals(Status.Code.NOT_FOUND, map(Status.NOT_FOUND.withDescription("x"), "prompt").countedAs);
        assertNull(map(Status.UNAUTHENTICATED.withDescription("unknown API key"), "prompt").countedAs);
        assertNull(OpenAiError.invalid(null, "x").countedAs, "raised at the HTTP door");
        assertEquals(Status.Code.INVALID_ARGUMENT, OpenAiError.invalid(null, "x").grpcEquivalent());
        assertEquals(Status.Code.RESOURCE_EXHAUSTED,
                new OpenAiError(413, "invalid_request_error", "big", null, null, 0).grpcEquivalent());
    }

    @Test
    void parameterNames() {
        assertEquals("top_p", OpenAiError.param("sampling.top_p = 1.5 must be in (0, 1]", "messages"));
        assertEquals("messages", OpenAiError.param("chat.messages[0].role = \"x\" must be one of", "messages"));
        assertEquals("prompt", OpenAiError.param("token_ids.ids[3] = 999 is outside", "prompt"));
        assertEquals("stop", OpenAiError.param("stop[0] is empty", "messages"));
        assertEquals("top_logprobs", OpenAiError.param("logprobs = 30 is outside 0..20", "messages"));
        assertEquals("logprobs", OpenAiError.param("logprobs = 30 is outside 0..20", "prompt"));
        assertNull(OpenAiError.param("Something else", "prompt"));
    }
}
