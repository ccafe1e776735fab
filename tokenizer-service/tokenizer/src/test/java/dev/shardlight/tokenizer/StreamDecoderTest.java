package dev.shardlight.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamDecoderTest {

    /** Decodes id by id, returning every delta (the last one from finish()). */
    static List<String> deltas(Tokenizer t, int[] ids, boolean skipSpecial) {
        StreamDecoder d = t.newStreamDecoder(skipSpecial);
        List<String> out = new ArrayList<>();
        for (int id : ids) {
            out.add(d.next(id));
        }
        out.add(d.finish());
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void deltasOfEveryCorpusLineConcatenateToTheReferenceDecode(String name) {
        Tokenizer t = TestTokenizers.byName(name);
        for (Goldens.Encoding g : Goldens.encodings(name)) {
            List<String> keep = deltas(t, g.ids(), false);
            assertEquals(g.decoded(), String.join("", keep), g.source() + " " + EncodeGoldenTest.quote(g.text()));
            assertEquals(g.decodedSkip(), String.join("", deltas(t, g.ids(), true)));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void deltasOfValidTextNeverSplitACharacter(String name) {
        Tokenizer t = TestTokenizers.byName(name);
        for (Goldens.Encoding g : Goldens.encodings(name)) {
            if (g.decoded().indexOf('\uFFFD') >= 0) {
                continue;
            }
            for (String delta : deltas(t, g.ids(), false)) {
                assertFalse(delta.contains("\uFFFD"), "replacement character in a delta of " + EncodeGoldenTest.quote(g.text()));
                assertFalse(!delta.isEmpty() && Character.isLowSurrogate(delta.charAt(0)), "delta starts mid-character");
                assertFalse(!delta.isEmpty() && Character.isHighSurrogate(delta.charAt(delta.length() - 1)), "delta ends mid-character");
            }
        }
    }

    @Test
    void brokenUtf8AndSpecialsDecodeLikeTheReference() {
        for (JsonNode c : Goldens.read("decode.jsonl")) {
            Tokenizer t = TestTokenizers.byName(c.get("tokenizer").asText());
            int[] ids = Goldens.ints(c.get("ids"));
            String what = c.get("tokenizer").asText() + ": " + c.get("name").asText();
            assertEquals(c.get("decoded").asText(), t.decode(ids, false), what);
            assertEquals(c.get("decoded_skip").asText(), t.decode(ids, true), what + " (skipping specials)");
            assertEquals(c.get("decoded").asText(), String.join("", deltas(t, ids, false)), what + " (streamed)");
        }
    }

    @Test
    void byteLevelPiecesOfOneEmojiAreHeldUntilTheCharacterIsWhole() {
        Tokenizer llama = TestTokenizers.llama();
        int[] ids = llama.encode("\uD83D\uDE00!"); // 😀 is two byte-level pieces here, then "!"
        assertTrue(ids.length >= 3);
        List<String> d = deltas(llama, ids, false);
        assertEquals("", d.get(0));
        assertEquals("\uD83D\uDE00", d.get(1));
        assertEquals("!", d.get(2));
    }

    @Test
    void byteFallbackRunIsEmittedWhenTheRunEnds() {
        Tokenizer gemma = TestTokenizers.gemma();
        int e2 = gemma.id("<0xE2>").orElseThrow();
        int x82 = gemma.id("<0x82>").orElseThrow();
        int xac = gemma.id("<0xAC>").orElseThrow();
        int a = gemma.id("a").orElseThrow();
        List<String> d = deltas(gemma, new int[] {e2, x82, xac, a}, false);
        assertEquals(List.of("", "", "", "€a", ""), d);
    }
}
