package dev.shardlight.tokenizer;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Llama3SplitterTest {

    static List<String> split(String s) {
        IntList ends = new IntList(8);
        Llama3Splitter.split(s, 0, s.length(), ends);
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < ends.size(); i++) {
            out.add(s.substring(start, ends.get(i)));
            start = ends.get(i);
        }
        return out;
    }

    @Test
    void followsTheRegexAlternativesInOrder() {
        assertEquals(List.of("I", "'m", " fine", "'S", "up"), split("I'm fine'Sup"));
        assertEquals(List.of("123", "456", "7", " ", "89"), split("1234567 89"));
        assertEquals(List.of("  ", " x"), split("   x"));
        assertEquals(List.of(" \n\n", " "), split(" \n\n "));
        assertEquals(List.of("a", " ...\n", "b"), split("a ...\nb"));
        assertEquals(List.of("\u00a0", "\u00a0x"), split("\u00a0\u00a0x"));
    }

    /**
     * Every code point (U+0000..U+10FFFF) is a letter, number, space or other for this splitter
     * exactly as for tokenizers' Oniguruma regex (probed with the real tokenizer.json by
     * make_goldens.py): Java's Unicode tables and the White_Space list agree with it.
     */
    @Test
    void classifiesEveryCodePointLikeTokenizersRegex() throws Exception {
        int checked = 0;
        List<String> wrong = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                getClass().getResourceAsStream("/goldens/llama3-char-classes.txt"), StandardCharsets.US_ASCII))) {
            String line;
            while ((line = r.readLine()) != null) {
                String[] f = line.split(" ");
                for (int cp = Integer.parseInt(f[0], 16), last = Integer.parseInt(f[1], 16); cp <= last; cp++) {
                    String c = classOf(cp);
                    checked++;
                    if (!c.equals(f[2]) && wrong.size() < 20) {
                        wrong.add(String.format("U+%04X: %s, tokenizers %s", cp, c, f[2]));
                    }
                }
            }
        }
        assertEquals(0x110000 - 0x800, checked);
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    private static String classOf(int cp) {
        String ch = new String(Character.toChars(cp));
        if (cp == '\r' || cp == '\n') {
            return "S";
        }
        if (split("a" + ch).size() == 1) {
            return "L";
        }
        if (split("1" + ch).size() == 1) {
            return "N";
        }
        return split("!" + ch).size() == 1 ? "O" : "S";
    }
}
