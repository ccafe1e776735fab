package dev.shardlight.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Rewrites a Jinja2 template so Jinjava parses it as Jinja2 does where the two grammars disagree.
 *
 * <p>In Jinja2, unary {@code not} binds looser than comparisons and {@code is} tests and tighter
 * than {@code and}/{@code or}: {@code not tools is defined} means {@code not (tools is defined)}.
 * Jinjava's expression language binds {@code not} tightest, reading {@code (not tools) is defined},
 * which is always true; chat templates use this form constantly (Llama 3.x: {@code not tools is
 * defined}, {@code not date_string is defined}, {@code not message.tool_calls|length == 1}). So
 * every unary {@code not} gets explicit parentheses around its operand, up to the next
 * {@code and}, {@code or}, {@code if}, {@code else}, comma, colon or closing bracket at the same
 * depth. {@code is not} and {@code not in} are operators, not unary {@code not}, and are left alone.
 */
final class JinjaSource {
    private static final Set<String> STOP = Set.of("and", "or", "if", "else", ",", ":");
    private static final Set<String> BEFORE_UNARY = Set.of("(", "[", "{", ",", ":", "and", "or", "not", "if", "elif",
            "else", "=", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "~", "return", "in");

    private JinjaSource() {
    }

    static String normalize(String template) {
        StringBuilder out = new StringBuilder(template.length() + 64);
        int i = 0;
        while (i < template.length()) {
            int open = nextTag(template, i);
            if (open < 0) {
                out.append(template, i, template.length());
                break;
            }
            out.append(template, i, open + 2);
            String closer = template.startsWith("{{", open) ? "}}" : template.startsWith("{%", open) ? "%}" : "#}";
            int close = findClose(template, open + 2, closer);
            if (close < 0) {
                out.append(template, open + 2, template.length());
                break;
            }
            String inner = template.substring(open + 2, close);
            out.append(closer.equals("#}") ? inner : rewrite(inner));
            out.append(closer);
            i = close + 2;
            if (closer.equals("%}") && inner.strip().replaceFirst("^[-+]", "").strip().equals("raw")) {
                int end = template.indexOf("endraw", i);
                if (end < 0) {
                    out.append(template, i, template.length());
                    break;
                }
                int tagStart = template.lastIndexOf("{%", end);
                out.append(template, i, tagStart);
                i = tagStart;
            }
        }
        return out.toString();
    }

    private static int nextTag(String s, int from) {
        int a = s.indexOf("{{", from);
        int b = s.indexOf("{%", from);
        int c = s.indexOf("{#", from);
        int best = -1;
        for (int x : new int[] {a, b, c}) {
            if (x >= 0 && (best < 0 || x < best)) {
                best = x;
            }
        }
        return best;
    }

    /** The closer's index, skipping string literals inside the tag. */
    private static int findClose(String s, int from, String closer) {
        char quote = 0;
        for (int i = from; i < s.length() - 1; i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (!closer.equals("#}") && (c == '\'' || c == '"')) {
                quote = c;
            } else if (s.startsWith(closer, i)) {
                return i;
            }
        }
        return -1;
    }

    private record Token(String text, int start, int end) {
    }

    private static String rewrite(String expr) {
        List<Token> tokens = tokenize(expr);
        List<int[]> inserts = new ArrayList<>(); // {position, 0 = "(" / 1 = ")"}
        for (int k = 0; k < tokens.size(); k++) {
            if (!tokens.get(k).text.equals("not")) {
                continue;
            }
            String prev = k == 0 ? null : tokens.get(k - 1).text;
            boolean unary = prev == null || BEFORE_UNARY.contains(prev);
            if (!unary || "is".equals(prev) || (k + 1 < tokens.size() && tokens.get(k + 1).text.equals("in"))) {
                continue;
            }
            int depth = 0;
            int end = expr.length();
            for (int m = k + 1; m < tokens.size(); m++) {
                String t = tokens.get(m).text;
                if (t.equals("(") || t.equals("[") || t.equals("{")) {
                    depth++;
                } else if (t.equals(")") || t.equals("]") || t.equals("}")) {
                    if (depth-- == 0) {
                        end = tokens.get(m).start;
                        break;
                    }
                } else if (depth == 0 && STOP.contains(t)) {
                    end = tokens.get(m).start;
                    break;
                } else if (depth == 0 && m == tokens.size() - 1 && (t.equals("-") || t.equals("+"))
                        && tokens.get(m).end == expr.length()) {
                    end = tokens.get(m).start; // whitespace control marker before the closer
                    break;
                }
            }
            if (k + 1 < tokens.size() && tokens.get(k + 1).start < end) {
                inserts.add(new int[] {tokens.get(k).end, 0});
                inserts.add(new int[] {end, 1});
            }
        }
        if (inserts.isEmpty()) {
            return expr;
        }
        inserts.sort((x, y) -> x[0] != y[0] ? Integer.compare(x[0], y[0]) : Integer.compare(y[1], x[1]));
        StringBuilder sb = new StringBuilder(expr.length() + inserts.size());
        int at = 0;
        for (int[] ins : inserts) {
            sb.append(expr, at, ins[0]).append(ins[1] == 0 ? " (" : ")");
            at = ins[0];
        }
        return sb.append(expr, at, expr.length()).toString();
    }

    private static List<Token> tokenize(String s) {
        List<Token> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '\'' || c == '"') {
                int j = i + 1;
                while (j < s.length() && s.charAt(j) != c) {
                    j += s.charAt(j) == '\\' ? 2 : 1;
                }
                out.add(new Token(s.substring(i, Math.min(j + 1, s.length())), i, Math.min(j + 1, s.length())));
                i = j + 1;
            } else if (Character.isLetterOrDigit(c) || c == '_') {
                int j = i;
                while (j < s.length() && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_' || s.charAt(j) == '.')) {
                    j++;
                }
                out.add(new Token(s.substring(i, j), i, j));
                i = j;
            } else {
                int len = i + 1 < s.length() && "==!=<=>=".contains(s.substring(i, i + 2)) && s.substring(i, i + 2).matches("==|!=|<=|>=") ? 2 : 1;
                out.add(new Token(s.substring(i, i + len), i, i + len));
                i += len;
            }
        }
        return out;
    }
}
