/**
 * The OpenAI-compatible HTTP API: a second door into the gateway's gRPC path.
 *
 * <p>{@link dev.shardlight.gateway.openai.OpenAiHttpServer} (the JDK's HTTP server, a virtual
 * thread per exchange) turns each request into the {@code shardlight.v1.GenerateRequest} a gRPC
 * client would send and calls the same {@code InferenceService} over an in-process channel, with
 * the caller's {@code Authorization: Bearer KEY} / {@code x-api-key} as metadata. Tenants,
 * validation, routing, retries, flow control and metrics are therefore the gRPC path's own. The key
 * is checked at the door first (401 before the body is read), with the same {@code Tenants}.
 *
 * <p>Disconnects: an HTTP client that goes away mid-stream cancels the call, which stops the
 * sequence (or takes it out of its replica's queue) and frees its KV cache. A stream waits at most
 * 400 ms for its first event, so refusals still get their own HTTP status; after that its 200 and
 * headers go out, and while no event comes (queued, prefill, a held-back tool call) an SSE comment
 * line {@code : keep-alive} is written every 250 ms, which clients ignore: writing is the only way
 * to find a closed socket, so a client that leaves before its first token is noticed, and its call
 * cancelled, within about a second. A refusal that comes later than 400 ms (e.g. an admission
 * timeout) arrives as an in-stream {@code {"error": ...}} event followed by {@code [DONE]}.
 * Non-streamed requests cannot be probed (nothing may precede their JSON body, and the JDK server
 * does not expose the socket): they run to their end, bounded by max_tokens and the context;
 * clients that need to stop early stream.
 *
 * <p>Metrics: generation requests this door refuses itself (bad JSON, 413, unknown key, fields
 * OpenAI-only validation rejects) are counted in {@code shardlight_requests_total} like gRPC's,
 * with the gRPC status they stand for (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 413
 * RESOURCE_EXHAUSTED, ...), tenant {@code unauthenticated} for a refused key, and the body's model
 * when it was read; refusals of the gRPC service are counted there, once.
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
 * message), 401 bad or missing key, 403 (PERMISSION_DENIED), 404 unknown model
 * ({@code model_not_found}), 413, 429 with {@code Retry-After} (rate limits), 503 with
 * {@code Retry-After} (every replica's queue full, or none running). Retry-After is the
 * {@code google.rpc.RetryInfo} retry delay in the gRPC status details (grpc-status-details-bin),
 * whole seconds rounded up, else 1. Refused with a clear 400: {@code n} &ne; 1, {@code best_of} &ne; 1, {@code echo},
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
