package dev.shardlight.tokenizer;

/**
 * Llama 3's pre-tokenizer, the regex of meta-llama/llama3 {@code tokenizer.py} (also the Split
 * pattern in its tokenizer.json) written out as a scanner:
 *
 * <pre>
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * </pre>
 *
 * A hand-written scanner is several times faster than java.util.regex here and fixes the
 * character classes to what tokenizers' Oniguruma uses: {@code \s} is Unicode White_Space (Java's
 * {@code \s} is ASCII-only, and {@code Character.isWhitespace} drops U+00A0 and U+202F),
 * {@code \p{L}} the L* categories and {@code \p{N}} the N* categories. The alternatives are tried
 * in order at each position, as the regex engine does.
 */
final class Llama3Splitter {
    static final String PATTERN =
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static final byte LETTER = 1;
    private static final byte NUMBER = 2;
    private static final byte SPACE = 4;
    private static final byte[] BMP = new byte[0x10000];

    static {
        for (int c = 0; c < 0x10000; c++) {
            BMP[c] = classify(c);
        }
    }

    private Llama3Splitter() {
    }

    private static byte classify(int c) {
        switch (Character.getType(c)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER:
                return LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER:
                return NUMBER;
            default:
                return isWhiteSpace(c) ? SPACE : 0;
        }
    }

    /** Unicode's White_Space property (PropList.txt), which Oniguruma's {@code \s} matches. */
    static boolean isWhiteSpace(int c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    private static int cls(int c) {
        return c < 0x10000 ? BMP[c] : classify(c);
    }

    private static boolean isLetter(int c) {
        return cls(c) == LETTER;
    }

    private static boolean isNumber(int c) {
        return cls(c) == NUMBER;
    }

    private static boolean isSpace(int c) {
        return cls(c) == SPACE;
    }

    /** Neither whitespace, letter nor number: {@code [^\s\p{L}\p{N}]}. */
    private static boolean isOther(int c) {
        return cls(c) == 0;
    }

    /** Characters that fold to the ASCII letter in a case-insensitive contraction match. */
    private static int fold(int c) {
        if (c == 0x017F) {
            return 's'; // LATIN SMALL LETTER LONG S case-folds to 's'
        }
        return c < 128 ? Character.toLowerCase(c) : c;
    }

    /** Appends the end offset (char index) of each pre-token of {@code s[from, to)} to {@code ends}. */
    static void split(String s, int from, int to, IntList ends) {
        int pos = from;
        while (pos < to) {
            int end = next(s, pos, to);
            ends.add(end);
            pos = end;
        }
    }

    private static int next(String s, int pos, int to) {
        int c = s.codePointAt(pos);
        int p1 = pos + Character.charCount(c);

        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (c == '\'' && p1 < to) {
            int c1 = fold(s.codePointAt(p1));
            int p2 = p1 + Character.charCount(s.codePointAt(p1));
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                return p2;
            }
            if (p2 < to) {
                int c2 = fold(s.codePointAt(p2));
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                    return p2 + Character.charCount(s.codePointAt(p2));
                }
            }
        }

        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (isLetter(c)) {
            return skipLetters(s, p1, to);
        }
        if (c != '\r' && c != '\n' && !isNumber(c) && p1 < to && isLetter(s.codePointAt(p1))) {
            return skipLetters(s, p1, to);
        }

        // \p{N}{1,3}
        if (isNumber(c)) {
            int end = p1;
            for (int k = 1; k < 3 && end < to; k++) {
                int d = s.codePointAt(end);
                if (!isNumber(d)) {
                    break;
                }
                end += Character.charCount(d);
            }
            return end;
        }

        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        int start = pos;
        if (c == ' ' && p1 < to && isOther(s.codePointAt(p1))) {
            start = p1;
        }
        if (isOther(s.codePointAt(start))) {
            int end = start;
            while (end < to) {
                int d = s.codePointAt(end);
                if (!isOther(d)) {
                    break;
                }
                end += Character.charCount(d);
            }
            while (end < to && (s.charAt(end) == '\r' || s.charAt(end) == '\n')) {
                end++;
            }
            return end;
        }

        // c is whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+   (White_Space is all in the BMP)
        int runEnd = pos;
        int lastBreak = -1;
        while (runEnd < to && isSpace(s.charAt(runEnd))) {
            char d = s.charAt(runEnd);
            if (d == '\r' || d == '\n') {
                lastBreak = runEnd;
            }
            runEnd++;
        }
        if (lastBreak >= 0) {
            return lastBreak + 1;
        }
        if (runEnd == to || runEnd - pos == 1) {
            return runEnd;
        }
        return runEnd - 1;
    }

    private static int skipLetters(String s, int i, int to) {
        while (i < to) {
            int d = s.codePointAt(i);
            if (!isLetter(d)) {
                break;
            }
            i += Character.charCount(d);
        }
        return i;
    }
}
