package dev.shardlight.engine.format;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * JSON text as the Python tools that publish checkpoints write it, so generated files read like
 * the published ones: {@link #pretty} is transformers' {@code json.dumps(d, indent=2,
 * sort_keys=True)} (config.json, model.safetensors.index.json); {@link #compact} is the
 * safetensors header (serde_json, keys in insertion order, no spaces).
 *
 * <p>Values: Map (String keys), List, String, Integer/Long, Float/Double (Python's float repr:
 * {@code 1e-06}, {@code 10000.0}), Boolean, null.
 */
final class PythonJson {

    private PythonJson() {
    }

    static String pretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0, true);
        return sb.toString();
    }

    static String compact(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, COMPACT, false);
        return sb.toString();
    }

    private static final int COMPACT = Integer.MIN_VALUE / 2;

    /** indent < 0: compact (no newlines, no space after ':'). */
    private static void write(StringBuilder sb, Object v, int indent, boolean sortKeys) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> string(sb, s);
            case Boolean b -> sb.append(b ? "true" : "false");
            case Integer i -> sb.append(i);
            case Long l -> sb.append(l);
            case Float f -> sb.append(pythonFloat(f.doubleValue()));
            case Double d -> sb.append(pythonFloat(d));
            case Map<?, ?> m -> {
                List<String> keys = new ArrayList<>();
                m.keySet().forEach(k -> keys.add((String) k));
                if (sortKeys) {
                    keys.sort(null);
                }
                sb.append('{');
                for (int i = 0; i < keys.size(); i++) {
                    sb.append(i > 0 ? "," : "");
                    newline(sb, indent + 1);
                    string(sb, keys.get(i));
                    sb.append(indent < 0 ? ":" : ": ");
                    write(sb, m.get(keys.get(i)), indent + 1, sortKeys);
                }
                if (!keys.isEmpty()) {
                    newline(sb, indent);
                }
                sb.append('}');
            }
            case List<?> list -> {
                sb.append('[');
                for (int i = 0; i < list.size(); i++) {
                    sb.append(i > 0 ? "," : "");
                    newline(sb, indent + 1);
                    write(sb, list.get(i), indent + 1, sortKeys);
                }
                if (!list.isEmpty()) {
                    newline(sb, indent);
                }
                sb.append(']');
            }
            default -> throw new IllegalArgumentException("no JSON form for " + v.getClass());
        }
    }

    private static void newline(StringBuilder sb, int indent) {
        if (indent >= 0) {
            sb.append('\n').append("  ".repeat(indent));
        }
    }

    /** json.dumps with ensure_ascii=True. */
    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    /** Python's repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    static String pythonFloat(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "Infinity" : "-Infinity";
        }
        if (v == 0) {
            return 1 / v < 0 ? "-0.0" : "0.0";
        }
        String sign = v < 0 ? "-" : "";
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(v))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exponent = digits.length() - 1 - bd.scale();
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        String plain = bd.toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
