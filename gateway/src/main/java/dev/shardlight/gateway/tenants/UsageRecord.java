package dev.shardlight.gateway.tenants;

/** The tokens one request was served: its tenant, the id of the key it came with (never the key) and its model. */
public record UsageRecord(long atMillis, String tenant, String keyId, String model, long promptTokens,
                          long completionTokens, long cachedTokens) {
}
