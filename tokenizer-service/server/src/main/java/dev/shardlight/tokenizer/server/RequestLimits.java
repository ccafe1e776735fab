package dev.shardlight.tokenizer.server;

/**
 * Size limits per request, checked before any work: a megabyte of text takes tens of
 * milliseconds to encode, and a chat renders twice (see {@code ChatTemplate.apply}).
 *
 * @param maxTextBytes UTF-8 bytes of text (for a chat: all message fields and tools_json together)
 * @param maxIds       ids in one Decode request
 */
public record RequestLimits(int maxTextBytes, int maxIds) {
    /** 1 MiB of text; 262,144 ids (Gemma 3's vocabulary size, far beyond any served context). */
    public static final RequestLimits DEFAULT = new RequestLimits(1 << 20, 262_144);

    public RequestLimits {
        if (maxTextBytes <= 0 || maxIds <= 0) {
            throw new IllegalArgumentException("limits must be positive: maxTextBytes=" + maxTextBytes + ", maxIds=" + maxIds);
        }
    }

    /** UTF-8 length of {@code s}, without encoding it. */
    static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
