package dev.shardlight.tokenizer;

/** UTF-8 helpers with the exact replacement rules the reference decoders use. */
final class Utf8 {
    private Utf8() {
    }

    /**
     * Length of the well-formed UTF-8 sequence at {@code b[i]} (Unicode Table 3-7), 0 if the bytes
     * there are ill-formed, or -1 if they are a valid but incomplete prefix cut off at {@code end}.
     */
    static int sequenceLength(byte[] b, int i, int end) {
        int s = scan(b, i, end);
        int need = s >>> 8;
        int valid = s & 0xFF;
        return valid == need ? need : i + valid >= end ? -1 : 0;
    }

    /**
     * Length of the maximal prefix of a well-formed sequence at {@code b[i]}: what Rust's
     * {@code String::from_utf8_lossy} replaces with one U+FFFD (Unicode "maximal subpart").
     */
    static int maximalSubpart(byte[] b, int i, int end) {
        return Math.max(1, scan(b, i, end) & 0xFF);
    }

    /**
     * How many bytes from {@code b[i]} follow Table 3-7 (0 for a byte that cannot lead), packed
     * with the length the lead byte calls for: {@code (needed << 8) | valid}.
     */
    private static int scan(byte[] b, int i, int end) {
        int b0 = b[i] & 0xFF;
        if (b0 < 0x80) {
            return (1 << 8) | 1;
        }
        int need;
        int lo = 0x80;
        int hi = 0xBF;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            need = 2;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            need = 3;
            lo = b0 == 0xE0 ? 0xA0 : 0x80;
            hi = b0 == 0xED ? 0x9F : 0xBF;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            need = 4;
            lo = b0 == 0xF0 ? 0x90 : 0x80;
            hi = b0 == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 1 << 8;
        }
        int valid = 1;
        while (valid < need && i + valid < end) {
            int c = b[i + valid] & 0xFF;
            if (c < lo || c > hi) {
                break;
            }
            lo = 0x80;
            hi = 0xBF;
            valid++;
        }
        return (need << 8) | valid;
    }

    /** Whether {@code b[from, to)} is well-formed UTF-8. */
    static boolean isValid(byte[] b, int from, int to) {
        for (int i = from; i < to; ) {
            int n = sequenceLength(b, i, to);
            if (n <= 0) {
                return false;
            }
            i += n;
        }
        return true;
    }

    /** Decodes {@code b[from, to)}, one U+FFFD per maximal ill-formed subpart (from_utf8_lossy). */
    static void decodeLossy(byte[] b, int from, int to, StringBuilder out) {
        int i = from;
        while (i < to) {
            int start = i;
            int n;
            while (i < to && (n = sequenceLength(b, i, to)) > 0) {
                i += n;
            }
            if (i > start) {
                out.append(new String(b, start, i - start, java.nio.charset.StandardCharsets.UTF_8));
            }
            if (i < to) {
                out.append('\uFFFD');
                i += maximalSubpart(b, i, to);
            }
        }
    }
}
