package dev.shardlight.tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tracks which parts of a rendered prompt came from messages rather than from the template, so
 * that only the template's own text can produce control tokens.
 *
 * <p>Before rendering, every message content string is wrapped in two Unicode noncharacters
 * (U+FDD0 … U+FDD1) placed inside its leading and trailing whitespace, so Jinja's {@code trim}
 * and string concatenation behave exactly as on the bare string; every other string the caller
 * supplied (roles, tool schemas, tool calls) has just its control-token look-alikes wrapped, so
 * template comparisons such as {@code item['type'] == 'text'} still hold. After rendering the
 * markers are removed and the spans they enclosed are protected: no control token may overlap
 * them, which also stops a token from being formed across the edge of a message. Noncharacters
 * are reserved by Unicode for exactly this internal use; input containing them is refused.
 */
final class ContentMarkers {
    static final char OPEN = '\uFDD0';
    static final char CLOSE = '\uFDD1';

    private final AddedTokens added;

    ContentMarkers(AddedTokens added) {
        this.added = added;
    }

    /** A copy of {@code messages} with content wrapped and look-alikes marked. */
    List<Object> markMessages(List<? extends Map<String, ?>> messages) {
        List<Object> out = new ArrayList<>(messages.size());
        for (Map<String, ?> m : messages) {
            Map<String, Object> copy = new LinkedHashMap<>();
            for (Map.Entry<String, ?> e : m.entrySet()) {
                Object v = e.getValue();
                copy.put(e.getKey(), e.getKey().equals("content") ? markContent(v) : markLookAlikes(v));
            }
            out.add(copy);
        }
        return out;
    }

    /** Content: a string is wrapped whole; in a list of parts, each part's "text" is. */
    private Object markContent(Object v) {
        if (v instanceof String s) {
            return wrapCore(s);
        }
        if (v instanceof List<?> parts) {
            List<Object> out = new ArrayList<>(parts.size());
            for (Object part : parts) {
                if (part instanceof Map<?, ?> pm) {
                    Map<Object, Object> copy = new LinkedHashMap<>();
                    for (Map.Entry<?, ?> e : pm.entrySet()) {
                        copy.put(e.getKey(), "text".equals(e.getKey()) && e.getValue() instanceof String s
                                ? wrapCore(s) : markLookAlikes(e.getValue()));
                    }
                    out.add(copy);
                } else {
                    out.add(markContent(part));
                }
            }
            return out;
        }
        return markLookAlikes(v);
    }

    Object markLookAlikes(Object v) {
        if (v instanceof String s) {
            return wrapSpecials(s);
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> copy = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                copy.put(e.getKey() instanceof String k ? refuseMarkers(k) : e.getKey(), markLookAlikes(e.getValue()));
            }
            return copy;
        }
        if (v instanceof List<?> l) {
            List<Object> copy = new ArrayList<>(l.size());
            for (Object o : l) {
                copy.add(markLookAlikes(o));
            }
            return copy;
        }
        return v;
    }

    private String wrapCore(String s) {
        refuseMarkers(s);
        int from = 0;
        int to = s.length();
        while (from < to && isPythonSpace(s.charAt(from))) {
            from++;
        }
        while (to > from && isPythonSpace(s.charAt(to - 1))) {
            to--;
        }
        if (from == to) {
            return s;
        }
        return s.substring(0, from) + OPEN + s.substring(from, to) + CLOSE + s.substring(to);
    }

    private String wrapSpecials(String s) {
        refuseMarkers(s);
        StringBuilder sb = new StringBuilder(s.length() + 8);
        int[] last = {0};
        added.split(s, AddedTokens.SpecialPolicy.ALLOW, new AddedTokens.Sink() {
            @Override
            public void text(int start, int end) {
            }

            @Override
            public void token(int id, int start, int end) {
                if (added.isSpecialId(id)) {
                    sb.append(s, last[0], start).append(OPEN).append(s, start, end).append(CLOSE);
                    last[0] = end;
                }
            }
        });
        return last[0] == 0 ? s : sb.append(s, last[0], s.length()).toString();
    }

    private static String refuseMarkers(String s) {
        if (s.indexOf(OPEN) >= 0 || s.indexOf(CLOSE) >= 0) {
            throw new IllegalArgumentException("chat input contains U+FDD0 or U+FDD1, Unicode noncharacters that Shardlight reserves to mark message content");
        }
        return s;
    }

    /** The rendered text without markers, and the spans the markers enclosed. */
    record Unmarked(String text, int[] starts, int[] ends) {
        /** Whether a control token at {@code [start, end)} would touch no protected span. */
        boolean allows(int start, int end) {
            int lo = 0;
            int hi = starts.length - 1;
            int found = -1;
            while (lo <= hi) { // last span starting before end
                int mid = (lo + hi) >>> 1;
                if (starts[mid] < end) {
                    found = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return found < 0 || ends[found] <= start;
        }
    }

    static Unmarked unmark(String rendered) {
        StringBuilder text = new StringBuilder(rendered.length());
        IntList starts = new IntList(16);
        IntList ends = new IntList(16);
        int depth = 0;
        for (int i = 0; i < rendered.length(); i++) {
            char c = rendered.charAt(i);
            if (c == OPEN) {
                if (depth++ == 0) {
                    starts.add(text.length());
                }
            } else if (c == CLOSE) {
                if (depth == 0) {
                    throw new ChatTemplateException("the chat template cut a message apart (unbalanced content markers)");
                }
                if (--depth == 0) {
                    ends.add(text.length());
                }
            } else {
                text.append(c);
            }
        }
        if (depth != 0) {
            throw new ChatTemplateException("the chat template cut a message apart (unbalanced content markers)");
        }
        return new Unmarked(text.toString(), starts.toArray(), ends.toArray());
    }

    /** Python's {@code str.isspace}: what Jinja's {@code trim} ({@code str.strip}) removes. */
    static boolean isPythonSpace(int c) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }
}
