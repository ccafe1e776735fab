package dev.shardlight.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every corpus line (gettext catalogs of ~180 locales plus edge cases) against the ids, untrusted
 * ids and decodes that Hugging Face {@code tokenizers} produced for the same files.
 */
class EncodeGoldenTest {

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void encodesEveryCorpusLineToTheReferenceIds(String name) {
        Tokenizer t = TestTokenizers.byName(name);
        assertAllMatch(name, Goldens.encodings(name), g -> t.encode(g.text()), Goldens.Encoding::ids);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void untrustedTextNeverYieldsSpecialTokensLikeEncodeSpecialTokens(String name) {
        Tokenizer t = TestTokenizers.byName(name);
        assertAllMatch(name, Goldens.encodings(name), g -> t.encodeUntrusted(g.text()), Goldens.Encoding::untrusted);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void decodesTheReferenceIdsToTheReferenceText(String name) {
        Tokenizer t = TestTokenizers.byName(name);
        List<Goldens.Encoding> goldens = Goldens.encodings(name);
        List<String> failures = new ArrayList<>();
        for (Goldens.Encoding g : goldens) {
            String keep = t.decode(g.ids(), false);
            String skip = t.decode(g.ids(), true);
            if (!keep.equals(g.decoded()) || !skip.equals(g.decodedSkip())) {
                failures.add(g.source() + " " + quote(g.text()) + ": decoded " + quote(keep) + " / " + quote(skip));
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + goldens.size() + " differ:\n" + String.join("\n", head(failures)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void bosIsPrependedOnlyWhenAsked(String name) {
        Tokenizer t = TestTokenizers.byName(name);
        int[] plain = t.encode("Hello world");
        int[] withBos = t.encode("Hello world", true);
        assertEquals(name.equals("gemma3") ? 2 : 128000, withBos[0]);
        assertEquals(Arrays.toString(plain), Arrays.toString(Arrays.copyOfRange(withBos, 1, withBos.length)));
    }

    static void assertAllMatch(String name, List<Goldens.Encoding> goldens, Function<Goldens.Encoding, int[]> actual,
                               Function<Goldens.Encoding, int[]> expected) {
        List<String> failures = new ArrayList<>();
        for (Goldens.Encoding g : goldens) {
            int[] got = actual.apply(g);
            if (!Arrays.equals(got, expected.apply(g))) {
                failures.add(g.source() + " " + quote(g.text()) + "\n  expected " + Arrays.toString(expected.apply(g))
                        + "\n  actual   " + Arrays.toString(got));
            }
        }
        assertTrue(failures.isEmpty(), name + ": " + failures.size() + " of " + goldens.size() + " lines differ:\n"
                + String.join("\n", head(failures)));
    }

    private static List<String> head(List<String> l) {
        return l.subList(0, Math.min(10, l.size()));
    }

    static String quote(String s) {
        String q = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        return "\"" + q.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "\"";
    }
}
