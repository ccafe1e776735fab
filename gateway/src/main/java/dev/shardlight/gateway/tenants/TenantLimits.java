package dev.shardlight.gateway.tenants;

/**
 * A tenant's limits; 0 in any field means "no limit".
 *
 * @param tokensPerMinute prompt + completion tokens; admission charges prompt + max_tokens and the
 *                        unused part of max_tokens is refunded when the stream ends
 */
public record TenantLimits(long requestsPerMinute, long tokensPerMinute, int maxConcurrentStreams, int maxTokensPerRequest) {
    public static final TenantLimits NONE = new TenantLimits(0, 0, 0, 0);

    public TenantLimits {
        if (requestsPerMinute < 0 || tokensPerMinute < 0 || maxConcurrentStreams < 0 || maxTokensPerRequest < 0) {
            throw new IllegalArgumentException("limits must be >= 0 (0 = no limit)");
        }
    }
}
