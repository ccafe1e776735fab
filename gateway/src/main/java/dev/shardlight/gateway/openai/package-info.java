/**
 * The OpenAI-compatible HTTP API: a second door into the gateway's gRPC path.
 *
 * <p>{@link dev.shardlight.gateway.openai.OpenAiHttpServer} (the JDK's HTTP server, a virtual
 * thread per exchange) turns each request into the {@code shardlight.v1.GenerateRequest} a gRPC
 * client would send and calls the same {@code InferenceService} over an in-process channel, with
 * the caller's {@code Authorization: Bearer KEY} / {@code x-api-key} as metadata. Tenants,
 * validation, routing, retries, flow control and metrics are therefore the gRPC path's own; an HTTP
 * client that disconnects mid-stream cancels the call, which stops the sequence and frees its KV.
 * Started by {@code ShardlightNode} on gateway nodes when {@code shardlight.http.port} &gt; 0
 * ({@code shardlight serve/node --http-port}, default 8080; 0 turns it off);
 * {@code shardlight.http.max-body-bytes} (default 8 MiB) bounds request bodies (413 above).
 *
 * <p>Endpoints: {@code POST /v1/chat/completions}, {@code POST /v1/completions} (both with
 * {@code stream} as server-sent events ending in {@code data: [DONE]}, {@code stream_options.include_usage},
 * logprobs), {@code GET /v1/models}, {@code GET /v1/models/{id}}, {@code GET /health} (liveness),
 * {@code GET /ready} (some model can serve; 503 before).
 *
 * <p>Errors use OpenAI's shape {@code {"error": {"message", "type", "param", "code"}}}: 400 with the
 * parameter (context overflow: code {@code context_length_exceeded}, both token counts in the
 * message), 401 bad or missing key, 403, 404 unknown model ({@code model_not_found}), 413, 429 with
 * {@code Retry-After} (rate limits), 503 with {@code Retry-After} (every replica's queue full, or
 * none running). Refused with a clear 400: {@code n} &ne; 1, {@code best_of} &ne; 1, {@code echo},
 * {@code suffix}, {@code logit_bias}, {@code response_format} json_object / json_schema (needs
 * constrained decoding), {@code tool_choice} other than auto / none, non-text content parts.
 * Accepted beyond OpenAI's fields: {@code top_k} (-1 or 0 disables), {@code min_p},
 * {@code repetition_penalty}. {@code user} is accepted and not used.
 *
 * <p>Tools are passed to the model's chat template; output that is a JSON function call
 * ({@code {"name", "parameters"|"arguments"}}, optionally after {@code <|python_tag|>} or in a
 * {@code ```json} fence) naming an offered tool becomes {@code tool_calls} with finish reason
 * {@code tool_calls} (see {@link dev.shardlight.gateway.openai.ToolCalls}).
 */
package dev.shardlight.gateway.openai;
