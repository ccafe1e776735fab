package dev.shardlight.cli;

/** Minimal JSON text helpers for the CLI's line-oriented output. */
final class Json {
    private Json() {
    }

    /** A float as JSON: shortest repr that round-trips the float32 value; non-finite as null. */
    static String number(float f) {
        return Float.isFinite(f) ? Float.toString(f) : "null";
    }

    static String number(double d) {
        return Double.isFinite(d) ? String.format(java.util.Locale.ROOT, "%.3f", d) : "null";
    }

    static String ids(int[] ids) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < ids.length; i++) {
            sb.append(i == 0 ? "" : ",").append(ids[i]);
        }
        return sb.append(']').toString();
    }

    static String string(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (ch < 0x20) {
                        sb.append(String.format("\\u%04x", (int) ch));
                    } else {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
