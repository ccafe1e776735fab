package dev.shardlight.tokenizer;

import java.util.List;
import java.util.Map;

/** Null-safe access into the plain-Java JSON values {@link JsonScanner#readValue()} returns. */
final class JsonTree {
    private JsonTree() {
    }

    /** The value at {@code path} (map keys or list indexes), or null where any step is missing. */
    static Object at(Object node, Object... path) {
        Object n = node;
        for (Object step : path) {
            if (step instanceof String k && n instanceof Map<?, ?> m) {
                n = m.get(k);
            } else if (step instanceof Integer i && n instanceof List<?> l && i < l.size()) {
                n = l.get(i);
            } else {
                return null;
            }
        }
        return n;
    }

    static String str(Object node, Object... path) {
        return at(node, path) instanceof String s ? s : null;
    }

    static boolean bool(Object node, String key, boolean fallback) {
        return at(node, key) instanceof Boolean b ? b : fallback;
    }

    static List<?> list(Object node, Object... path) {
        return at(node, path) instanceof List<?> l ? l : List.of();
    }

    static int integer(Object node, Object... path) {
        if (at(node, path) instanceof Number n) {
            return n.intValue();
        }
        throw new TokenizerFormatException("expected a number at " + List.of(path));
    }
}
