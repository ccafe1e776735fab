package dev.shardlight.gateway;

import dev.shardlight.engine.format.GgufFile;
import dev.shardlight.tokenizer.ChatTemplate;
import dev.shardlight.tokenizer.Tokenizer;
import dev.shardlight.worker.ModelCatalog;
import dev.shardlight.worker.ModelSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerCodecsTest {

    @Test
    void aModelsGgufSuppliesItsCodecAndTextGetsBos() {
        var codecs = new TokenizerCodecs(new ModelCatalog(List.of(
                new ModelSpec("tiny", TestNodes.tinyGemma(), 1, 256, 1 << 20, 0, 1),
                new ModelSpec("missing", "/nonexistent.gguf", 1, 256, 1 << 20, 0, 1))));
        PromptCodec codec = codecs.forModel("tiny").orElseThrow();
        int[] ids = codec.encode("hello");
        assertEquals(2, ids[0], "Gemma's BOS first");
        assertTrue(ids.length > 1);
        assertTrue(codecs.forModel("missing").isEmpty());
        assertTrue(codecs.forModel("undeclared").isEmpty());
    }

    @Test
    void chatTemplatesRenderOnTheGatewayClasspath() throws Exception {
        // jinjava needs Guava's -jre flavour; grpc-java brings the -android one (see the root pom).
        try (GgufFile gguf = GgufFile.open(Path.of(TestNodes.tinyGemma()))) {
            Tokenizer t = Tokenizer.fromGgufMetadata(gguf.metadata());
            ChatTemplate template = t.chatTemplate("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}");
            assertEquals("<user>hi", template.render(List.of(Map.of("role", "user", "content", "hi")),
                    ChatTemplate.Options.defaults()));
        }
    }
}
