package dev.shardlight.gateway;

import dev.shardlight.engine.runtime.SamplingParams;

import java.util.List;

/**
 * A Generate request that passed validation: the prompt as token ids, everything in range, and
 * known to fit the model's context.
 *
 * @param stop     stop strings (matched on decoded text, so only with a codec)
 * @param logprobs top alternatives per token, 0..20; 0: no logprobs at all
 */
record ValidRequest(String requestId, String tenant, String model, int[] prompt, int maxTokens, SamplingParams sampling,
                    int[] stopTokens, List<String> stop, PromptCodec codec, long deadlineEpochMillis, int logprobs) {
}
