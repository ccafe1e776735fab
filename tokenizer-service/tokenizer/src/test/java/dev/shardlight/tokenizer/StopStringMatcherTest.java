package dev.shardlight.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopStringMatcherTest {

    @Test
    void stopStringSplitAcrossDeltasIsFoundAndNeverEmitted() {
        StopStringMatcher m = new StopStringMatcher(List.of("</answer>"));
        assertEquals("The result is 42", m.accept("The result is 42<").text());
        assertEquals("", m.accept("/ans").text());
        StopStringMatcher.Step last = m.accept("wer> trailing");
        assertTrue(last.stopped());
        assertEquals("", last.text());
        assertEquals("</answer>", last.stopString());
    }

    @Test
    void heldBackTextIsReleasedWhenItStopsLookingLikeAStopString() {
        StopStringMatcher m = new StopStringMatcher(List.of("STOP"));
        assertEquals("go ", m.accept("go ST").text());
        StopStringMatcher.Step s = m.accept("ART now");
        assertFalse(s.stopped());
        assertEquals("START now", s.text());
        assertNull(s.stopString());
    }

    @Test
    void earliestOfSeveralStopStringsWins() {
        StopStringMatcher m = new StopStringMatcher(List.of("\n\n", "User:"));
        StopStringMatcher.Step s = m.accept("answer User: more\n\n");
        assertTrue(s.stopped());
        assertEquals("answer ", s.text());
        assertEquals("User:", s.stopString());
    }

    @Test
    void finishReleasesAHeldPrefix() {
        StopStringMatcher m = new StopStringMatcher(List.of("<end>"));
        assertEquals("x", m.accept("x<en").text());
        assertEquals("<en", m.finish());
    }

    @Test
    void worksOnStreamedDecoderDeltas() {
        Tokenizer gemma = TestTokenizers.gemma();
        int[] ids = gemma.encode("Sure! Here it is.<end_of_turn>ignored");
        StreamDecoder d = gemma.newStreamDecoder(false);
        StopStringMatcher m = new StopStringMatcher(List.of("<end_of_turn>", "it is!"));
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            StopStringMatcher.Step s = m.accept(d.next(id));
            out.append(s.text());
            if (s.stopped()) {
                break;
            }
        }
        assertEquals("Sure! Here it is.", out.toString());
    }
}
