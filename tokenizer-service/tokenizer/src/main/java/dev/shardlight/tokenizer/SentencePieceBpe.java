package dev.shardlight.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * SentencePiece-style BPE as tokenizers runs Gemma 3's tokenizer.json: spaces become ▁ (no dummy
 * prefix), the whole text between added tokens is one word, every code point starts as its own
 * piece, merges apply by rank, and a code point with no piece falls back to its UTF-8 bytes as
 * {@code <0xXX>} pieces (tokenizers BPE {@code byte_fallback}), else to the unknown piece.
 */
final class SentencePieceBpe implements SegmentEncoder {
    private final BpeMerger merger;
    private final MergeTable merges;
    private final int[] bmpIds = new int[0x10000];
    private final Map<Integer, Integer> astralIds = new HashMap<>();
    private final int[] byteIds = new int[256];
    private final boolean byteFallback;
    private final int unkId;
    private final boolean fuseUnk;
    /** Normalizer: one character replaced by another (Gemma: ' ' → '▁'); -1 for none. */
    private final int replaceFrom;
    private final int replaceTo;
    private final WordCache cache = new WordCache();

    SentencePieceBpe(Vocabulary vocab, MergeTable merges, boolean byteFallback, int unkId, boolean fuseUnk,
                     int replaceFrom, int replaceTo) {
        this.merger = new BpeMerger(merges);
        this.merges = merges;
        this.byteFallback = byteFallback;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.replaceFrom = replaceFrom;
        this.replaceTo = replaceTo;
        java.util.Arrays.fill(bmpIds, -1);
        for (int id = vocab.size() - 1; id >= 0; id--) {
            String p = vocab.piece(id);
            if (p == null || p.isEmpty() || p.codePointCount(0, p.length()) != 1) {
                continue;
            }
            int cp = p.codePointAt(0);
            if (cp < 0x10000) {
                bmpIds[cp] = id;
            } else {
                astralIds.put(cp, id);
            }
        }
        java.util.Arrays.fill(byteIds, -1);
        for (int id = vocab.size() - 1; id >= 0; id--) {
            String p = vocab.piece(id);
            // tokenizers looks byte pieces up as "<0x%02X>": upper-case hex only
            if (p != null && Vocabulary.byteFallbackValue(p) >= 0 && p.equals(p.toUpperCase().replace("<0X", "<0x"))) {
                byteIds[Vocabulary.byteFallbackValue(p)] = id;
            }
        }
    }

    MergeTable merges() {
        return merges;
    }

    @Override
    public void encode(String text, int from, int to, IntList out) {
        if (to - from <= WordCache.MAX_WORD_CHARS) {
            String word = text.substring(from, to);
            int[] hit = cache.get(word);
            if (hit == null) {
                IntList ids = new IntList(to - from);
                encodeWord(text, from, to, ids);
                hit = ids.toArray();
                cache.put(word, hit);
            }
            out.addAll(hit);
        } else {
            encodeWord(text, from, to, out);
        }
    }

    private void encodeWord(String text, int from, int to, IntList out) {
        int[] symbols = new int[(to - from) * 4];
        int n = 0;
        boolean lastWasUnk = false;
        for (int i = from; i < to; ) {
            int cp = text.codePointAt(i);
            int len = Character.charCount(cp);
            if (cp == replaceFrom) {
                cp = replaceTo;
            }
            int id = cp < 0x10000 ? bmpIds[cp] : astralIds.getOrDefault(cp, -1);
            if (id >= 0) {
                symbols[n++] = id;
                lastWasUnk = false;
            } else if (byteFallback && fallbackAll(text, i, len)) {
                for (byte b : text.substring(i, i + len).getBytes(StandardCharsets.UTF_8)) {
                    symbols[n++] = byteIds[b & 0xFF];
                }
                lastWasUnk = false;
            } else {
                if (unkId < 0) {
                    throw new TokenizerFormatException("character U+" + Integer.toHexString(cp).toUpperCase()
                            + " has no piece, no byte fallback and the model defines no unknown token");
                }
                if (!(fuseUnk && lastWasUnk)) {
                    symbols[n++] = unkId;
                }
                lastWasUnk = true;
            }
            i += len;
        }
        merger.merge(symbols, n, out);
    }

    private boolean fallbackAll(String text, int i, int len) {
        for (byte b : text.substring(i, i + len).getBytes(StandardCharsets.UTF_8)) {
            if (byteIds[b & 0xFF] < 0) {
                return false;
            }
        }
        return true;
    }
}
