package dev.shardlight.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A GGUF file alone encodes like the model's tokenizer.json: the test writes vocabulary GGUFs the
 * way llama.cpp's converter does, reads them back with the engine's GGUF reader, and holds them
 * to the same goldens.
 */
class GgufTokenizerTest {

    private static Tokenizer fromGguf(String name) {
        return name.equals("gemma3") ? TestTokenizers.gemmaFromGguf() : TestTokenizers.llamaFromGguf();
    }

    /**
     * The corpus lines whose ids a GGUF vocabulary can hold: Gemma's tokenizer.json adds
     * {@code <image_soft_token>} as id 262144, beyond the 262,144 pieces the converter writes for
     * 270M/1B (llama.cpp also trims the embedding to 262,144 rows), so that one line is left out.
     */
    private static List<Goldens.Encoding> representable(String name, Tokenizer t) {
        return Goldens.encodings(name).stream()
                .filter(g -> Arrays.stream(g.ids()).allMatch(id -> id < t.vocabularySize()))
                .toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void ggufMetadataEncodesEveryCorpusLineToTheReferenceIds(String name) {
        Tokenizer t = fromGguf(name);
        List<Goldens.Encoding> goldens = representable(name, t);
        assertTrue(Goldens.encodings(name).size() - goldens.size() <= 1);
        EncodeGoldenTest.assertAllMatch(name + " (GGUF)", goldens, g -> t.encode(g.text()), Goldens.Encoding::ids);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "llama3"})
    void ggufMetadataDecodesLikeTheReference(String name) {
        Tokenizer t = fromGguf(name);
        for (Goldens.Encoding g : representable(name, t)) {
            assertEquals(g.decoded(), t.decode(g.ids(), false), g.source() + " " + EncodeGoldenTest.quote(g.text()));
        }
    }

    @Test
    void gemmaGgufWithoutImageSoftTokenSpellsItAsText() {
        int[] ids = TestTokenizers.gemmaFromGguf().encode("<image_soft_token>");
        assertEquals("<image_soft_token>", TestTokenizers.gemmaFromGguf().decode(ids, false));
        assertTrue(ids.length > 1);
    }

    @Test
    void gemmaMergesRebuiltFromSentencePieceScoresEqualTokenizerJsonMerges() {
        MergeTable json = ((SentencePieceBpe) TestTokenizers.gemma().segments()).merges();
        MergeTable gguf = ((SentencePieceBpe) TestTokenizers.gemmaFromGguf().segments()).merges();
        assertEquals(514_906, json.size());
        assertEquals(json.size(), gguf.size());
        json.forEach((left, right, rank, merged) -> {
            int slot = gguf.find(left, right);
            assertTrue(slot >= 0, "merge " + rank + " missing");
            assertEquals(rank, gguf.rankAt(slot), "rank of merge " + rank);
            assertEquals(merged, gguf.mergedAt(slot));
        });
    }

    @Test
    void ggufCarriesTheChatTemplateAndSpecialTokens() {
        Tokenizer t = TestTokenizers.gemmaFromGguf();
        assertTrue(t.chatTemplate().orElseThrow().source().contains("<start_of_turn>"));
        assertEquals(2, t.bosId());
        assertTrue(t.isSpecial(106));
        assertEquals(TokenType.CONTROL, t.type(106));
        assertEquals(TokenType.USER_DEFINED, t.type(108));
        assertEquals("\n\n", t.piece(108));
    }

    @Test
    void unsupportedGgufVocabulariesAreRefusedByName() {
        var e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromGgufMetadata(Map.of(
                "tokenizer.ggml.model", "bert", "tokenizer.ggml.tokens", java.util.List.of("a"))));
        assertTrue(e.getMessage().contains("\"bert\""), e.getMessage());
        var pre = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromGgufMetadata(Map.of(
                "tokenizer.ggml.model", "gpt2", "tokenizer.ggml.pre", "qwen2",
                "tokenizer.ggml.tokens", java.util.List.of("a"))));
        assertTrue(pre.getMessage().contains("qwen2"), pre.getMessage());
    }
}
