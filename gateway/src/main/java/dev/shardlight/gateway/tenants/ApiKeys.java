package dev.shardlight.gateway.tenants;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Making, hashing and checking API keys. Keys made here read {@code sl_<keyId>_<secret>} (a
 * 256-bit secret), so the gateway finds the stored record by its id and checks one hash; keys
 * written into configuration by hand may be any string and are checked against every stored hash.
 * Only SHA-256(salt || key) with a per-key random salt is kept: a high-entropy key needs no slow
 * hash, and the salt keeps equal keys from having equal hashes.
 */
public final class ApiKeys {
    static final String PREFIX = "sl_";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

    private ApiKeys() {
    }

    /** A new key and its stored form. */
    public record Made(String key, ApiKeyRecord record) {
        @Override
        public String toString() {
            return "Made[" + record + "]"; // never the key
        }
    }

    static Made make(String label, long requestsPerMinute, long tokensPerMinute, long nowMillis) {
        StringBuilder id = new StringBuilder("k");
        for (int i = 0; i < 11; i++) {
            id.append(ID_CHARS[RANDOM.nextInt(ID_CHARS.length)]);
        }
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        String key = PREFIX + id + "_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        return new Made(key, hashed(id.toString(), label, key, requestsPerMinute, tokensPerMinute, nowMillis));
    }

    /** The stored form of a given key (from configuration), with a fresh salt. */
    static ApiKeyRecord hashed(String keyId, String label, String key, long requestsPerMinute, long tokensPerMinute, long nowMillis) {
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        return new ApiKeyRecord(keyId, label, salt, hash(salt, key), nowMillis, 0, requestsPerMinute, tokensPerMinute);
    }

    static byte[] hash(byte[] salt, String key) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(salt);
            return d.digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Constant-time comparison of the key's salted hash with the stored one. */
    static boolean matches(ApiKeyRecord record, String key) {
        return MessageDigest.isEqual(record.hash(), hash(record.salt(), key));
    }

    /** The key id a key made by {@link #make} names, or null for any other string. */
    static String idOf(String key) {
        if (!key.startsWith(PREFIX)) {
            return null;
        }
        int end = key.indexOf('_', PREFIX.length());
        return end < 0 ? null : key.substring(PREFIX.length(), end);
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    static byte[] unhex(String field, String hex) {
        try {
            return HexFormat.of().parseHex(hex);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + ": not hexadecimal");
        }
    }
}
