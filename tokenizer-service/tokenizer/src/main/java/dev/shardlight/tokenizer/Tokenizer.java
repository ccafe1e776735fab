package dev.shardlight.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A loaded tokenizer: Gemma 3's SentencePiece-style BPE or Llama 3's byte-level BPE, from a
 * Hugging Face tokenizer.json or from GGUF metadata, producing the ids the Hugging Face
 * {@code tokenizers} library produces. Immutable and safe to share between threads.
 *
 * <p>Two trust levels for text: {@link #encode(String)} recognises special tokens written in the
 * text, as {@code tokenizers} does by default (for a trusted caller that writes prompts with
 * control tokens); {@link #encodeUntrusted(String)} never turns text into a control token (end
 * users' content). Chat prompts mix both: see {@link ChatTemplate}.
 */
public final class Tokenizer {
    private final Vocabulary vocab;
    private final AddedTokens added;
    private final SegmentEncoder segments;
    private final int bosId;
    private final TemplateSource template;

    /** The chat template and the special-token strings its context offers (bos_token, eos_token, …). */
    record TemplateSource(String template, Map<String, String> specialTokens) {
    }

    Tokenizer(Vocabulary vocab, AddedTokens added, SegmentEncoder segments, int bosId, TemplateSource template) {
        this.vocab = vocab;
        this.added = added;
        this.segments = segments;
        this.bosId = bosId;
        this.template = template;
    }

    /**
     * Loads a Hugging Face tokenizer: {@code path} is a tokenizer.json (its sibling
     * tokenizer_config.json, if present, supplies the chat template) or a directory holding both.
     */
    public static Tokenizer fromHuggingFace(Path path) throws IOException {
        return HuggingFaceTokenizerLoader.load(path);
    }

    /**
     * Builds a tokenizer from GGUF metadata: the {@code tokenizer.ggml.*} keys and
     * {@code tokenizer.chat_template}, typed as the engine's GGUF reader returns them (string
     * arrays as {@code List}, integer arrays as {@code long[]}, f32 arrays as {@code float[]}).
     */
    public static Tokenizer fromGgufMetadata(Map<String, Object> metadata) {
        return GgufTokenizerLoader.load(metadata);
    }

    /** Encodes text, recognising special tokens written in it; no BOS. */
    public int[] encode(String text) {
        return encode(text, false);
    }

    /** Encodes text, recognising special tokens written in it, with BOS first if {@code addBos}. */
    public int[] encode(String text, boolean addBos) {
        return encode(text, AddedTokens.SpecialPolicy.ALLOW, addBos);
    }

    /**
     * Encodes text whose author may not produce control tokens: "&lt;end_of_turn&gt;" or
     * "&lt;|eot_id|&gt;" written in it become ordinary pieces (tokenizers with
     * {@code encode_special_tokens=True}). Non-control added pieces such as Gemma's "\n\n" still apply.
     */
    public int[] encodeUntrusted(String text) {
        return encode(text, AddedTokens.SpecialPolicy.DENY, false);
    }

    int[] encode(String text, AddedTokens.SpecialPolicy policy, boolean addBos) {
        IntList out = new IntList(text.length() / 3 + 4);
        if (addBos) {
            out.add(bosId());
        }
        added.split(text, policy, new AddedTokens.Sink() {
            @Override
            public void text(int start, int end) {
                segments.encode(text, start, end, out);
            }

            @Override
            public void token(int id, int start, int end) {
                out.add(id);
            }
        });
        return out.toArray();
    }

    /** Number of ids, including added tokens. */
    public int vocabularySize() {
        return vocab.size();
    }

    /** The BOS id; fails if the tokenizer defines none. */
    public int bosId() {
        if (bosId < 0) {
            throw new IllegalStateException("this tokenizer defines no BOS token");
        }
        return bosId;
    }

    /** The id of a piece or added token spelled exactly {@code piece}, if any. */
    public Optional<Integer> id(String piece) {
        int id = vocab.id(piece);
        return id < 0 ? Optional.empty() : Optional.of(id);
    }

    /** The piece for {@code id} as the vocabulary spells it (▁ and byte-level characters included). */
    public String piece(int id) {
        checkId(id);
        return vocab.piece(id);
    }

    public TokenType type(int id) {
        checkId(id);
        return vocab.type(id);
    }

    /** Whether {@code id} is a control token: skipped by {@code decode(ids, true)}, never made from untrusted text. */
    public boolean isSpecial(int id) {
        checkId(id);
        return vocab.isSpecial(id);
    }

    /**
     * Decodes ids to text as {@code tokenizers}' decoder does: invalid UTF-8 becomes U+FFFD
     * (per byte-fallback run, or per maximal ill-formed subsequence for byte-level pieces).
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StreamDecoder d = newStreamDecoder(skipSpecialTokens);
        StringBuilder sb = new StringBuilder(ids.length * 4);
        for (int id : ids) {
            sb.append(d.next(id));
        }
        return sb.append(d.finish()).toString();
    }

    /** A decoder for ids arriving one at a time; see {@link StreamDecoder}. */
    public StreamDecoder newStreamDecoder(boolean skipSpecialTokens) {
        return new StreamDecoder(vocab, skipSpecialTokens);
    }

    /** The model's chat template, if its files carry one. */
    public Optional<ChatTemplate> chatTemplate() {
        if (template == null || template.template() == null) {
            return Optional.empty();
        }
        return Optional.of(new ChatTemplate(template.template(), template.specialTokens(), this));
    }

    /**
     * A chat template from another source (e.g. a newer model revision's template for the same
     * vocabulary), with this tokenizer's special-token strings in its context.
     */
    public ChatTemplate chatTemplate(String source) {
        return new ChatTemplate(source, template == null ? Map.of() : template.specialTokens(), this);
    }

    /** Ids of the special (control) tokens, in id order. */
    public List<Integer> specialIds() {
        return added.entries().stream().filter(AddedTokens.Entry::special).map(AddedTokens.Entry::id).sorted().toList();
    }

    AddedTokens addedTokens() {
        return added;
    }

    SegmentEncoder segments() {
        return segments;
    }

    Vocabulary vocabulary() {
        return vocab;
    }

    private void checkId(int id) {
        if (!vocab.contains(id)) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + vocab.size() + ")");
        }
    }
}
