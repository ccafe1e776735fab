package dev.shardlight.gateway.tenants;

/**
 * One API key of a tenant as it is stored: never the key, only a salted SHA-256 of it.
 *
 * @param keyId             public id; labels usage and metrics
 * @param salt              16 random bytes
 * @param hash              SHA-256(salt || key)
 * @param revokedMillis     0 while the key is live
 * @param requestsPerMinute this key's own limit on top of the tenant's; 0: none
 * @param tokensPerMinute   as requestsPerMinute, for prompt + completion tokens
 */
public record ApiKeyRecord(String keyId, String label, byte[] salt, byte[] hash, long createdMillis, long revokedMillis,
                           long requestsPerMinute, long tokensPerMinute) {
    public boolean revoked() {
        return revokedMillis != 0;
    }

    ApiKeyRecord revokedAt(long millis) {
        return new ApiKeyRecord(keyId, label, salt, hash, createdMillis, millis, requestsPerMinute, tokensPerMinute);
    }

    /** Never shows the salt or hash. */
    @Override
    public String toString() {
        return "ApiKeyRecord[" + keyId + (revoked() ? ", revoked" : "") + "]";
    }
}
