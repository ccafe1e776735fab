package dev.shardlight.tokenizer;

import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.Locale;

/**
 * Python's {@code datetime.strftime} in the C locale, for the {@code strftime_now} global that
 * transformers gives chat templates (Llama 3.2 writes "Today Date: 26 Jul 2024" with "%d %b %Y").
 */
final class Strftime {
    private Strftime() {
    }

    static String format(String pattern, LocalDateTime t) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            if (c != '%' || i + 1 == pattern.length()) {
                sb.append(c);
                continue;
            }
            char f = pattern.charAt(++i);
            boolean noPad = false;
            if (f == '-' && i + 1 < pattern.length()) { // glibc's "no padding" flag, as in "%-d"
                noPad = true;
                f = pattern.charAt(++i);
            }
            switch (f) {
                case 'd' -> pad(sb, t.getDayOfMonth(), 2, noPad);
                case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
                case 'm' -> pad(sb, t.getMonthValue(), 2, noPad);
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> pad(sb, t.getYear() % 100, 2, noPad);
                case 'H' -> pad(sb, t.getHour(), 2, noPad);
                case 'I' -> pad(sb, (t.getHour() + 11) % 12 + 1, 2, noPad);
                case 'M' -> pad(sb, t.getMinute(), 2, noPad);
                case 'S' -> pad(sb, t.getSecond(), 2, noPad);
                case 'j' -> pad(sb, t.getDayOfYear(), 3, noPad);
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'w' -> sb.append(t.getDayOfWeek().getValue() % 7);
                case 'F' -> sb.append(String.format("%04d-%02d-%02d", t.getYear(), t.getMonthValue(), t.getDayOfMonth()));
                case '%' -> sb.append('%');
                default -> throw new ChatTemplateException("strftime_now: format directive %" + f + " is not supported");
            }
        }
        return sb.toString();
    }

    private static void pad(StringBuilder sb, int v, int width, boolean noPad) {
        String s = Integer.toString(v);
        if (!noPad) {
            sb.append("0".repeat(Math.max(0, width - s.length())));
        }
        sb.append(s);
    }
}
