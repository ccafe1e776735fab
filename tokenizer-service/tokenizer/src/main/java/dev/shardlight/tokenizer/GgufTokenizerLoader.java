package dev.shardlight.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a tokenizer from GGUF metadata as llama.cpp's convert_hf_to_gguf.py writes it, so that a
 * GGUF file alone encodes to the same ids as the Hugging Face tokenizer.json of the same model.
 *
 * <ul>
 *   <li>{@code tokenizer.ggml.model = "gpt2"} with {@code pre = "llama-bpe"} (Llama 3): tokens and
 *       merges are tokenizer.json's, so they are used as they are, with {@code ignore_merges}.
 *   <li>{@code tokenizer.ggml.model = "llama"} (Gemma 3, SentencePiece): GGUF carries pieces with
 *       scores instead of merges. The merges are rebuilt the way transformers'
 *       {@code convert_slow_tokenizer.generate_merges} built Gemma's tokenizer.json from the
 *       SentencePiece model: every split of a piece into two pieces is a merge, ordered by the
 *       piece's score (descending), then longer left part, then longer right part, then piece id.
 *       The converter wrote -1000 as the score of added (control and user-defined) pieces and
 *       turned their ▁ into spaces; both are undone first (SentencePiece gives such pieces score
 *       0), so the rebuilt merges are exactly tokenizer.json's.
 * </ul>
 */
final class GgufTokenizerLoader {
    private static final String HEX = "0123456789ABCDEF";
    private GgufTokenizerLoader() {
    }

    static Tokenizer load(Map<String, Object> md) {
        String model = string(md, "tokenizer.ggml.model", true);
        List<Object> tokenList = list(md, "tokenizer.ggml.tokens");
        int n = tokenList.size();
        String[] pieces = new String[n];
        for (int i = 0; i < n; i++) {
            pieces[i] = (String) tokenList.get(i);
        }
        long[] typeCodes = md.get("tokenizer.ggml.token_type") instanceof long[] t ? t : null;
        TokenType[] types = new TokenType[n];
        for (int i = 0; i < n; i++) {
            types[i] = typeCodes == null ? TokenType.NORMAL : TokenType.fromGgufCode(typeCodes[i]);
        }
        boolean[] special = new boolean[n];
        List<AddedTokens.Entry> added = new ArrayList<>();
        boolean spm = switch (model) {
            case "llama" -> true;
            case "gpt2" -> false;
            default -> throw new TokenizerFormatException("tokenizer.ggml.model \"" + model
                    + "\" is not supported (\"llama\" for Gemma's SentencePiece, \"gpt2\" for Llama 3's byte-level BPE are)");
        };
        for (int i = 0; i < n; i++) {
            if (types[i] == TokenType.USER_DEFINED && spm) {
                pieces[i] = pieces[i].replace(' ', '\u2581'); // undo the converter's "pre-normalize user-defined spaces"
            }
            if (types[i] == TokenType.CONTROL || types[i] == TokenType.USER_DEFINED) {
                special[i] = types[i] == TokenType.CONTROL;
                added.add(new AddedTokens.Entry(pieces[i], i, special[i]));
            }
        }
        Vocabulary vocab = new Vocabulary(pieces, types, special,
                spm ? Vocabulary.Decoding.SENTENCEPIECE : Vocabulary.Decoding.BYTE_LEVEL);
        int bos = intOr(md, "tokenizer.ggml.bos_token_id", -1);
        SegmentEncoder segments = spm ? sentencePiece(md, vocab, types) : byteLevel(md, vocab);
        return new Tokenizer(vocab, new AddedTokens(added), segments, bos, templateSource(md, pieces));
    }

    private static SegmentEncoder byteLevel(Map<String, Object> md, Vocabulary vocab) {
        String pre = string(md, "tokenizer.ggml.pre", false);
        if (!"llama-bpe".equals(pre)) {
            throw new TokenizerFormatException("tokenizer.ggml.pre \"" + pre
                    + "\" is not supported for a gpt2 vocabulary (\"llama-bpe\", Llama 3's, is)");
        }
        List<Object> mergeList = list(md, "tokenizer.ggml.merges");
        MergeTable merges = new MergeTable(mergeList.size());
        for (int rank = 0; rank < mergeList.size(); rank++) {
            String m = (String) mergeList.get(rank);
            int sp = m.indexOf(' ', 1);
            int a = sp < 0 ? -1 : vocab.id(m.substring(0, sp));
            int b = sp < 0 ? -1 : vocab.id(m.substring(sp + 1));
            int c = sp < 0 ? -1 : vocab.id(m.substring(0, sp) + m.substring(sp + 1));
            if (a < 0 || b < 0 || c < 0) {
                throw new TokenizerFormatException("tokenizer.ggml.merges[" + rank + "] \"" + m + "\" uses a piece that is not a token");
            }
            merges.put(a, b, rank, c);
        }
        return new ByteLevelBpe(vocab, merges, true);
    }

    private static SegmentEncoder sentencePiece(Map<String, Object> md, Vocabulary vocab, TokenType[] types) {
        Object addSpacePrefix = md.get("tokenizer.ggml.add_space_prefix");
        if (!Boolean.FALSE.equals(addSpacePrefix)) {
            throw new TokenizerFormatException("tokenizer.ggml.add_space_prefix is " + (addSpacePrefix == null ? "absent (true)" : addSpacePrefix)
                    + "; only SentencePiece vocabularies without a dummy prefix (Gemma 3's) are supported");
        }
        float[] scores = md.get("tokenizer.ggml.scores") instanceof float[] s ? s : null;
        if (scores == null || scores.length != vocab.size()) {
            throw new TokenizerFormatException("tokenizer.ggml.scores is missing or not one f32 per token");
        }
        MergeTable merges = rebuildMerges(vocab, types, scores);
        int unk = intOr(md, "tokenizer.ggml.unknown_token_id", -1);
        boolean byteFallback = true;
        for (int b = 0; b < 256; b++) {
            byteFallback &= vocab.id("<0x" + HEX.charAt(b >> 4) + HEX.charAt(b & 15) + ">") >= 0;
        }
        return new SentencePieceBpe(vocab, merges, byteFallback, unk, true, ' ', '\u2581');
    }

    static MergeTable rebuildMerges(Vocabulary vocab, TokenType[] types, float[] scores) {
        int n = vocab.size();
        float[] score = new float[n];
        for (int i = 0; i < n; i++) {
            score[i] = types[i] == TokenType.CONTROL || types[i] == TokenType.USER_DEFINED ? 0f : scores[i];
        }
        // Candidates in generation order: by merged id, then (left id, right id).
        IntList left = new IntList(1 << 19);
        IntList right = new IntList(1 << 19);
        IntList merged = new IntList(1 << 19);
        long[] local = new long[64];
        PieceIndex index = vocab.index();
        int[] pow31 = new int[1];
        for (int id = 0; id < n; id++) {
            String p = vocab.piece(id);
            if (p == null || p.length() < 2) {
                continue;
            }
            char[] c = p.toCharArray();
            int len = c.length;
            if (pow31.length < len + 1) {
                pow31 = new int[Math.max(len + 1, pow31.length * 2)];
                pow31[0] = 1;
                for (int i = 1; i < pow31.length; i++) {
                    pow31[i] = pow31[i - 1] * 31;
                }
            }
            int whole = p.hashCode();
            int prefix = 0;
            int count = 0;
            for (int k = 1; k < len; k++) {
                prefix = 31 * prefix + c[k - 1];
                if (Character.isLowSurrogate(c[k]) && Character.isHighSurrogate(c[k - 1])) {
                    continue; // split only between code points, as Python slices str
                }
                int l = index.get(c, 0, k, prefix);
                if (l < 0) {
                    continue;
                }
                int suffix = whole - prefix * pow31[len - k]; // hash(p) = hash(prefix)·31^|suffix| + hash(suffix)
                int r = index.get(c, k, len, suffix);
                if (r < 0) {
                    continue;
                }
                if (count == local.length) {
                    local = Arrays.copyOf(local, count * 2);
                }
                local[count++] = ((long) l << 32) | r;
            }
            Arrays.sort(local, 0, count);
            for (int i = 0; i < count; i++) {
                left.add((int) (local[i] >>> 32));
                right.add((int) local[i]);
                merged.add(id);
            }
        }
        int m = merged.size();
        // Distinct scores, ranked so that a higher score sorts first.
        float[] distinct = Arrays.copyOf(score, n);
        Arrays.sort(distinct);
        int distinctCount = 0;
        for (int i = 0; i < n; i++) {
            if (i == 0 || Float.compare(distinct[i], distinct[i - 1]) != 0) {
                distinct[distinctCount++] = distinct[i];
            }
        }
        if (distinctCount > (1 << 20) || m > (1 << 22)) {
            throw new TokenizerFormatException("vocabulary too large to rebuild merges (" + n + " pieces, " + m + " merges)");
        }
        int[] codePoints = new int[n];
        for (int i = 0; i < n; i++) {
            String p = vocab.piece(i);
            codePoints[i] = p == null ? 0 : Math.min(255, p.codePointCount(0, p.length()));
        }
        long[] keys = new long[m];
        for (int i = 0; i < m; i++) {
            int scoreRank = distinctCount - 1 - Arrays.binarySearch(distinct, 0, distinctCount, score[merged.get(i)]);
            int lenL = codePoints[left.get(i)];
            int lenR = codePoints[right.get(i)];
            keys[i] = ((long) scoreRank << 38) | ((long) (255 - lenL) << 30) | ((long) (255 - lenR) << 22) | i;
        }
        Arrays.sort(keys);
        MergeTable table = new MergeTable(m);
        for (int rank = 0; rank < m; rank++) {
            int i = (int) (keys[rank] & ((1 << 22) - 1));
            table.put(left.get(i), right.get(i), rank, merged.get(i));
        }
        return table;
    }

    private static Tokenizer.TemplateSource templateSource(Map<String, Object> md, String[] pieces) {
        Map<String, String> specials = new LinkedHashMap<>();
        for (String[] k : new String[][] {{"bos_token", "tokenizer.ggml.bos_token_id"}, {"eos_token", "tokenizer.ggml.eos_token_id"},
                {"unk_token", "tokenizer.ggml.unknown_token_id"}, {"pad_token", "tokenizer.ggml.padding_token_id"}}) {
            int id = intOr(md, k[1], -1);
            if (id >= 0 && id < pieces.length) {
                specials.put(k[0], pieces[id]);
            }
        }
        Object t = md.get("tokenizer.chat_template");
        return new Tokenizer.TemplateSource(t instanceof String s ? s : null, specials);
    }

    private static String string(Map<String, Object> md, String key, boolean required) {
        Object v = md.get(key);
        if (v == null && !required) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new TokenizerFormatException("GGUF metadata " + key + (v == null ? " is missing" : " is not a string"));
        }
        return s;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Map<String, Object> md, String key) {
        Object v = md.get(key);
        if (!(v instanceof List<?> l)) {
            throw new TokenizerFormatException("GGUF metadata " + key + (v == null ? " is missing" : " is not a string array"));
        }
        return (List<Object>) l;
    }

    private static int intOr(Map<String, Object> md, String key, int fallback) {
        Object v = md.get(key);
        return v instanceof Number num ? num.intValue() : fallback;
    }
}
