package dev.shardlight.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static dev.shardlight.tokenizer.JsonTree.at;
import static dev.shardlight.tokenizer.JsonTree.bool;
import static dev.shardlight.tokenizer.JsonTree.list;
import static dev.shardlight.tokenizer.JsonTree.str;

/**
 * Loads a Hugging Face tokenizer.json (the {@code tokenizers} library's format) and, beside it,
 * tokenizer_config.json (chat template, special-token strings). The pipeline sections are checked
 * against the two shapes Shardlight implements — Gemma 3's SentencePiece-style BPE and Llama 3's
 * byte-level BPE — so an unsupported file fails with a message naming the component instead of
 * tokenizing differently.
 */
final class HuggingFaceTokenizerLoader {
    private static final Set<String> CONFIG_KEYS = Set.of("chat_template", "bos_token", "eos_token", "unk_token",
            "pad_token", "sep_token", "cls_token", "mask_token", "extra_special_tokens");

    private HuggingFaceTokenizerLoader() {
    }

    static Tokenizer load(Path path) throws IOException {
        Path json = Files.isDirectory(path) ? path.resolve("tokenizer.json") : path;
        if (!Files.isRegularFile(json)) {
            throw new TokenizerFormatException(Files.isDirectory(path) ? path + " holds no tokenizer.json" : path + " does not exist");
        }
        Path configFile = json.resolveSibling("tokenizer_config.json");
        try {
            Map<String, Object> config = Files.isRegularFile(configFile) ? readConfig(Files.readAllBytes(configFile)) : null;
            return build(TokenizerJsonFile.parse(Files.readAllBytes(json)), config);
        } catch (TokenizerFormatException e) {
            throw new TokenizerFormatException(json + ": " + e.getMessage(), e);
        } catch (ArrayIndexOutOfBoundsException e) {
            throw new TokenizerFormatException(json + ": truncated JSON", e);
        }
    }

    /** The top-level keys of tokenizer_config.json a chat template needs (not its 1 MB added_tokens_decoder). */
    private static Map<String, Object> readConfig(byte[] bytes) {
        Map<String, Object> config = new LinkedHashMap<>();
        JsonScanner s = new JsonScanner(bytes);
        s.expect('{');
        if (!s.empty('}')) {
            do {
                String key = s.readString();
                s.expect(':');
                if (CONFIG_KEYS.contains(key)) {
                    config.put(key, s.readValue());
                } else {
                    s.skipValue();
                }
            } while (s.more('}'));
        }
        return config;
    }

    private static Tokenizer build(TokenizerJsonFile f, Map<String, Object> config) {
        checkModel(f.model);
        boolean byteLevel = isByteLevelPipeline(f);
        int[] triples = f.merges;
        // The merge table and the vocabulary are independent: build them side by side.
        CompletableFuture<MergeTable> mergeTable = CompletableFuture.supplyAsync(() -> {
            MergeTable t = new MergeTable(triples.length / 3);
            for (int rank = 0; rank < triples.length / 3; rank++) {
                t.put(triples[3 * rank], triples[3 * rank + 1], rank, triples[3 * rank + 2]);
            }
            return t;
        });

        // Added tokens extend (or overwrite) the model's vocabulary.
        List<AddedTokens.Entry> entries = new ArrayList<>();
        int size = f.pieces.length;
        for (Object t : f.addedTokens) {
            for (String opt : List.of("single_word", "lstrip", "rstrip", "normalized")) {
                if (bool(t, opt, false)) {
                    throw new TokenizerFormatException("added token " + str(t, "content") + " sets " + opt + ", which is not supported");
                }
            }
            int id = JsonTree.integer(t, "id");
            entries.add(new AddedTokens.Entry(str(t, "content"), id, bool(t, "special", false)));
            size = Math.max(size, id + 1);
        }
        String[] pieces = java.util.Arrays.copyOf(f.pieces, size);
        TokenType[] types = new TokenType[size];
        boolean[] special = new boolean[size];
        for (int id = 0; id < size; id++) {
            types[id] = pieces[id] == null ? TokenType.UNUSED
                    : !byteLevel && Vocabulary.byteFallbackValue(pieces[id]) >= 0 ? TokenType.BYTE : TokenType.NORMAL;
        }
        for (AddedTokens.Entry e : entries) {
            pieces[e.id()] = e.content();
            types[e.id()] = e.special() ? TokenType.CONTROL : TokenType.USER_DEFINED;
            special[e.id()] = e.special();
        }
        Vocabulary vocab = new Vocabulary(pieces, types, special,
                byteLevel ? Vocabulary.Decoding.BYTE_LEVEL : Vocabulary.Decoding.SENTENCEPIECE);
        AddedTokens added = new AddedTokens(entries);
        MergeTable merges = mergeTable.join();
        SegmentEncoder segments;
        if (byteLevel) {
            segments = new ByteLevelBpe(vocab, merges, bool(f.model, "ignore_merges", false));
        } else {
            int[] replace = spaceReplacement(f);
            String unk = str(f.model, "unk_token");
            segments = new SentencePieceBpe(vocab, merges, bool(f.model, "byte_fallback", false),
                    unk == null ? -1 : vocab.idByScan(unk), bool(f.model, "fuse_unk", false), replace[0], replace[1]);
        }
        return new Tokenizer(vocab, added, segments, bosId(f, vocab, config), templateSource(config));
    }

    private static void checkModel(Map<String, Object> model) {
        String type = str(model, "type");
        if (!"BPE".equals(type)) {
            throw new TokenizerFormatException("model type " + type + " is not supported (BPE is)");
        }
        if (at(model, "dropout") != null) {
            throw new TokenizerFormatException("BPE dropout is not supported");
        }
        for (String opt : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            String v = str(model, opt);
            if (v != null && !v.isEmpty()) {
                throw new TokenizerFormatException("BPE option " + opt + " is not supported");
            }
        }
    }

    /** Llama 3: Split(llama3 regex) + ByteLevel(use_regex=false) and the ByteLevel decoder; else Gemma's shape. */
    private static boolean isByteLevelPipeline(TokenizerJsonFile f) {
        String decoderType = str(f.decoder, "type");
        if ("ByteLevel".equals(decoderType)) {
            if (f.normalizer != null) {
                throw new TokenizerFormatException("a normalizer with a byte-level model is not supported");
            }
            boolean ok = "Sequence".equals(str(f.preTokenizer, "type")) && list(f.preTokenizer, "pretokenizers").size() == 2
                    && "Split".equals(str(f.preTokenizer, "pretokenizers", 0, "type"))
                    && Llama3Splitter.PATTERN.equals(str(f.preTokenizer, "pretokenizers", 0, "pattern", "Regex"))
                    && "Isolated".equals(str(f.preTokenizer, "pretokenizers", 0, "behavior"))
                    && !Boolean.TRUE.equals(at(f.preTokenizer, "pretokenizers", 0, "invert"))
                    && "ByteLevel".equals(str(f.preTokenizer, "pretokenizers", 1, "type"))
                    && Boolean.FALSE.equals(at(f.preTokenizer, "pretokenizers", 1, "use_regex"))
                    && !Boolean.TRUE.equals(at(f.preTokenizer, "pretokenizers", 1, "add_prefix_space"));
            if (!ok) {
                throw new TokenizerFormatException("byte-level pre-tokenizer " + f.preTokenizer
                        + " is not supported (Llama 3's Split regex + ByteLevel is)");
            }
            return true;
        }
        List<?> decoders = list(f.decoder, "decoders");
        if ("Sequence".equals(decoderType) && decoders.size() == 3
                && "Replace".equals(str(decoders, 0, "type")) && "\u2581".equals(str(decoders, 0, "pattern", "String"))
                && " ".equals(str(decoders, 0, "content"))
                && "ByteFallback".equals(str(decoders, 1, "type")) && "Fuse".equals(str(decoders, 2, "type"))) {
            return false;
        }
        throw new TokenizerFormatException("decoder " + f.decoder
                + " is not supported (Gemma's Replace+ByteFallback+Fuse and Llama 3's ByteLevel are)");
    }

    /** Gemma: normalizer Replace(' ' → '▁'); the Split(' ') pre-tokenizer then finds no space, so it is a no-op. */
    private static int[] spaceReplacement(TokenizerJsonFile f) {
        int from = -1;
        int to = -1;
        if (f.normalizer != null) {
            String pattern = str(f.normalizer, "pattern", "String");
            String content = str(f.normalizer, "content");
            if (!"Replace".equals(str(f.normalizer, "type")) || pattern == null || content == null
                    || pattern.codePointCount(0, pattern.length()) != 1 || content.codePointCount(0, content.length()) != 1) {
                throw new TokenizerFormatException("normalizer " + f.normalizer
                        + " is not supported (a one-character Replace, as Gemma's ' ' → '▁', is)");
            }
            from = pattern.codePointAt(0);
            to = content.codePointAt(0);
        }
        if (f.preTokenizer != null) {
            String split = str(f.preTokenizer, "pattern", "String");
            boolean noOp = "Split".equals(str(f.preTokenizer, "type"))
                    && "MergedWithPrevious".equals(str(f.preTokenizer, "behavior"))
                    && split != null && split.codePointCount(0, split.length()) == 1 && split.codePointAt(0) == from;
            if (!noOp) {
                throw new TokenizerFormatException("pre-tokenizer " + f.preTokenizer + " is not supported with this model");
            }
        }
        return new int[] {from, to};
    }

    /** BOS: the first special token of the post-processor's single-sequence template, else tokenizer_config's bos_token. */
    private static int bosId(TokenizerJsonFile f, Vocabulary vocab, Map<String, Object> config) {
        Object pp = f.postProcessor;
        if ("Sequence".equals(str(pp, "type"))) {
            Object found = null;
            for (Object q : list(pp, "processors")) {
                if ("TemplateProcessing".equals(str(q, "type"))) {
                    found = q;
                }
            }
            pp = found;
        }
        if ("TemplateProcessing".equals(str(pp, "type"))) {
            String first = str(pp, "single", 0, "SpecialToken", "id");
            if (first != null && list(pp, "special_tokens", first, "ids").size() == 1) {
                return JsonTree.integer(pp, "special_tokens", first, "ids", 0);
            }
        }
        String bos = config == null ? null : specialTokenText(config.get("bos_token"));
        return bos == null ? -1 : vocab.idByScan(bos);
    }

    private static Tokenizer.TemplateSource templateSource(Map<String, Object> config) {
        if (config == null) {
            return null;
        }
        String template = null;
        Object t = config.get("chat_template");
        if (t instanceof String s) {
            template = s;
        } else if (t instanceof List<?> named) {
            for (Object n : named) {
                if ("default".equals(str(n, "name"))) {
                    template = str(n, "template");
                }
            }
        }
        Map<String, String> specials = new LinkedHashMap<>();
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")) {
            String v = specialTokenText(config.get(key));
            if (v != null) {
                specials.put(key, v);
            }
        }
        if (config.get("extra_special_tokens") instanceof Map<?, ?> extra) {
            extra.forEach((k, v) -> {
                String text = specialTokenText(v);
                if (text != null) {
                    specials.putIfAbsent(k.toString(), text);
                }
            });
        }
        return new Tokenizer.TemplateSource(template, specials);
    }

    /** A special token in tokenizer_config.json: a string or an AddedToken object with "content". */
    private static String specialTokenText(Object n) {
        return n instanceof String s ? s : str(n, "content");
    }
}
