package dev.shardlight.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HuggingFaceTokenizerLoaderTest {

    @Test
    void loadsFromTheFileOrItsDirectory() throws Exception {
        Tokenizer fromFile = Tokenizer.fromHuggingFace(TestTokenizers.llamaDir().resolve("tokenizer.json"));
        assertArrayEquals(TestTokenizers.llama().encode("Hello, world!"), fromFile.encode("Hello, world!"));
        assertTrue(fromFile.chatTemplate().isPresent(), "tokenizer_config.json beside the file supplies the template");
    }

    @Test
    void unsupportedComponentsAreNamedInTheError(@TempDir Path dir) throws Exception {
        Path wordPiece = dir.resolve("tokenizer.json");
        Files.writeString(wordPiece, "{\"added_tokens\": [], \"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}");
        var e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromHuggingFace(wordPiece));
        assertTrue(e.getMessage().contains("WordPiece") && e.getMessage().contains(wordPiece.toString()), e.getMessage());

        Files.writeString(wordPiece, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [[\"a\", \"b\"]]},"
                + " \"decoder\": {\"type\": \"ByteLevel\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}}");
        var pre = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromHuggingFace(wordPiece));
        assertTrue(pre.getMessage().contains("not in model.vocab") || pre.getMessage().contains("pre-tokenizer"), pre.getMessage());
    }

    @Test
    void truncatedFilesAndMissingPathsFailClearly(@TempDir Path dir) throws Exception {
        Path cut = dir.resolve("tokenizer.json");
        Files.writeString(cut, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b");
        var e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromHuggingFace(cut));
        assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
        var missing = assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromHuggingFace(dir.resolve("nope")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }
}
