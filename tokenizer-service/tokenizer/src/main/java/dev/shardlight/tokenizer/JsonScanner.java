package dev.shardlight.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * A cursor over a UTF-8 JSON document held in one byte array: just enough JSON to walk
 * tokenizer.json's structure, hand small sections to Jackson as byte ranges, and read the 262k
 * vocab entries and 515k merges without a token object or String per merge half.
 */
final class JsonScanner {
    final byte[] buf;
    int pos;

    JsonScanner(byte[] buf) {
        this.buf = buf;
    }

    TokenizerFormatException error(String what) {
        return new TokenizerFormatException("malformed JSON at byte " + pos + ": " + what);
    }

    byte peek() {
        skipWhitespace();
        if (pos >= buf.length) {
            throw error("unexpected end");
        }
        return buf[pos];
    }

    void expect(char c) {
        if (peek() != c) {
            throw error("expected '" + c + "', found '" + (char) buf[pos] + "'");
        }
        pos++;
    }

    /** After '{' or a value inside an object/array: consumes ',' and returns true, or the closer and returns false. */
    boolean more(char closer) {
        byte b = peek();
        if (b == ',') {
            pos++;
            return true;
        }
        if (b == closer) {
            pos++;
            return false;
        }
        throw error("expected ',' or '" + closer + "'");
    }

    /** True (and consumes it) if the container opened just before is empty. */
    boolean empty(char closer) {
        if (peek() == closer) {
            pos++;
            return true;
        }
        return false;
    }

    void skipWhitespace() {
        while (pos < buf.length) {
            byte b = buf[pos];
            if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
                return;
            }
            pos++;
        }
    }

    /**
     * Consumes a string; returns the end (exclusive, before the closing quote) of its raw bytes,
     * which start at {@link #stringStart}, or -1 if it has escapes (then use {@link #lastString}).
     */
    int stringStart;
    String lastString;

    int scanString() {
        expect('"');
        stringStart = pos;
        int i = pos;
        while (true) {
            byte b = buf[i];
            if (b == '"') {
                pos = i + 1;
                return i;
            }
            if (b == '\\') {
                pos = stringStart;
                lastString = decodeEscaped();
                return -1;
            }
            i++;
        }
    }

    String readString() {
        int end = scanString();
        return end >= 0 ? new String(buf, stringStart, end - stringStart, StandardCharsets.UTF_8) : lastString;
    }

    private String decodeEscaped() {
        StringBuilder sb = new StringBuilder();
        int runStart = pos;
        while (true) {
            byte b = buf[pos];
            if (b == '"') {
                sb.append(new String(buf, runStart, pos - runStart, StandardCharsets.UTF_8));
                pos++;
                return sb.toString();
            }
            if (b != '\\') {
                pos++;
                continue;
            }
            sb.append(new String(buf, runStart, pos - runStart, StandardCharsets.UTF_8));
            byte e = buf[pos + 1];
            pos += 2;
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    sb.append((char) Integer.parseInt(new String(buf, pos, 4, StandardCharsets.US_ASCII), 16));
                    pos += 4;
                }
                default -> throw error("bad escape \\" + (char) e);
            }
            runStart = pos;
        }
    }

    int readInt() {
        skipWhitespace();
        boolean neg = buf[pos] == '-';
        if (neg) {
            pos++;
        }
        int start = pos;
        long v = 0;
        while (pos < buf.length && buf[pos] >= '0' && buf[pos] <= '9') {
            v = v * 10 + (buf[pos++] - '0');
        }
        if (pos == start || v > Integer.MAX_VALUE) {
            throw error("expected an integer");
        }
        return (int) (neg ? -v : v);
    }

    /**
     * Reads one value as plain Java: {@code Map<String,Object>} (insertion order), {@code List},
     * {@code String}, {@code Long} or {@code Double}, {@code Boolean}, or null.
     */
    Object readValue() {
        byte b = peek();
        switch (b) {
            case '"' -> {
                return readString();
            }
            case '{' -> {
                pos++;
                java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                if (!empty('}')) {
                    do {
                        String k = readString();
                        expect(':');
                        m.put(k, readValue());
                    } while (more('}'));
                }
                return m;
            }
            case '[' -> {
                pos++;
                java.util.List<Object> l = new java.util.ArrayList<>();
                if (!empty(']')) {
                    do {
                        l.add(readValue());
                    } while (more(']'));
                }
                return l;
            }
            default -> {
                int start = skipValue();
                String literal = new String(buf, start, pos - start, StandardCharsets.US_ASCII);
                switch (literal) {
                    case "null" -> {
                        return null;
                    }
                    case "true" -> {
                        return Boolean.TRUE;
                    }
                    case "false" -> {
                        return Boolean.FALSE;
                    }
                    default -> {
                        try {
                            return literal.matches("-?\\d+") ? (Object) Long.valueOf(literal) : (Object) Double.valueOf(literal);
                        } catch (NumberFormatException e) {
                            throw error("bad literal " + literal);
                        }
                    }
                }
            }
        }
    }

    /** Skips one value of any kind; returns its start offset. */
    int skipValue() {
        byte b = peek();
        int start = pos;
        switch (b) {
            case '"' -> scanString();
            case '{', '[' -> {
                int depth = 0;
                while (true) {
                    byte c = buf[pos];
                    if (c == '"') {
                        scanString();
                        continue;
                    }
                    pos++;
                    if (c == '{' || c == '[') {
                        depth++;
                    } else if ((c == '}' || c == ']') && --depth == 0) {
                        break;
                    }
                }
            }
            default -> {
                while (pos < buf.length && buf[pos] != ',' && buf[pos] != '}' && buf[pos] != ']'
                        && buf[pos] != ' ' && buf[pos] != '\n' && buf[pos] != '\r' && buf[pos] != '\t') {
                    pos++;
                }
            }
        }
        return start;
    }
}
