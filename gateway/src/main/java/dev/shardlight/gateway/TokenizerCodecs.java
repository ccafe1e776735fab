package dev.shardlight.gateway;

import dev.shardlight.engine.format.GgufFile;
import dev.shardlight.tokenizer.ChatTemplate;
import dev.shardlight.tokenizer.StreamDecoder;
import dev.shardlight.tokenizer.Tokenizer;
import dev.shardlight.worker.ModelCatalog;
import dev.shardlight.worker.ModelSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Prompt codecs from the tokenizer library, loaded from each declared model's own files: the
 * {@code tokenizer.*} metadata of a GGUF, or the tokenizer.json (+ tokenizer_config.json) of a
 * Hugging Face directory. Loaded once per model on first use and shared (tokenizers are immutable).
 * End-user text is encoded as untrusted: text that spells a control token stays plain text.
 */
public final class TokenizerCodecs implements PromptCodec.Registry {
    private static final Logger LOG = LoggerFactory.getLogger(TokenizerCodecs.class);

    private final ModelCatalog catalog;
    private final Map<String, Optional<PromptCodec>> loaded = new ConcurrentHashMap<>();

    public TokenizerCodecs(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    /** Loads every model's tokenizer now (in the background at node start) instead of on the first request. */
    public void preload() {
        catalog.ids().forEach(this::forModel);
    }

    @Override
    public Optional<PromptCodec> forModel(String modelId) {
        return loaded.computeIfAbsent(modelId, id -> catalog.find(id).flatMap(TokenizerCodecs::load));
    }

    /** The tokenizer behind a model's codec, from the same cache (loaded once per node, shared with the tokenizer role). */
    public Optional<Tokenizer> tokenizer(String modelId) {
        return forModel(modelId).map(c -> ((Codec) c).tokenizer());
    }

    private static Optional<PromptCodec> load(ModelSpec spec) {
        return tokenizerOf(spec).map(t -> new Codec(spec.id(), t));
    }

    /** The model's own tokenizer (GGUF metadata or tokenizer.json beside the checkpoint), if it has a usable one. */
    static Optional<Tokenizer> tokenizerOf(ModelSpec spec) {
        Path path = Path.of(spec.path());
        try {
            if (Files.isDirectory(path)) {
                if (!Files.isRegularFile(path.resolve("tokenizer.json"))) {
                    return Optional.empty();
                }
                return Optional.of(Tokenizer.fromHuggingFace(path));
            } else if (Files.isRegularFile(path)) {
                try (GgufFile gguf = GgufFile.open(path)) {
                    if (!gguf.metadata().containsKey("tokenizer.ggml.model")) {
                        return Optional.empty();
                    }
                    return Optional.of(Tokenizer.fromGgufMetadata(gguf.metadata()));
                }
            }
            return Optional.empty();
        } catch (Exception | LinkageError e) {
            LOG.warn("model {}: no tokenizer from {}: {}", spec.id(), path, e.toString());
            return Optional.empty();
        }
    }

    private record Codec(String model, Tokenizer tokenizer) implements PromptCodec {
        @Override
        public int[] encode(String text) {
            int[] ids = tokenizer.encodeUntrusted(text);
            int bos;
            try {
                bos = tokenizer.bosId();
            } catch (IllegalStateException none) {
                return ids;
            }
            int[] out = new int[ids.length + 1];
            out[0] = bos;
            System.arraycopy(ids, 0, out, 1, ids.length);
            return out;
        }

        @Override
        public int[] encodeChat(List<Map<String, Object>> messages, List<Map<String, Object>> tools) {
            ChatTemplate template = tokenizer.chatTemplate().orElseThrow(() -> new IllegalArgumentException(
                    "model " + model + " has no chat template; send text or token_ids"));
            ChatTemplate.Options options = ChatTemplate.Options.defaults().withGenerationPrompt(true);
            if (!tools.isEmpty()) {
                options = options.withTools(tools);
            }
            try {
                return template.apply(messages, options).ids();
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
        }

        @Override
        public String tokenText(int id) {
            try {
                return tokenizer.decode(new int[] {id}, false);
            } catch (RuntimeException outsideVocabulary) {
                return "";
            }
        }

        @Override
        public Decoder newDecoder() {
            StreamDecoder d = tokenizer.newStreamDecoder(true);
            return new Decoder() {
                @Override
                public String next(int id) {
                    return d.next(id);
                }

                @Override
                public String finish() {
                    return d.finish();
                }
            };
        }
    }
}
