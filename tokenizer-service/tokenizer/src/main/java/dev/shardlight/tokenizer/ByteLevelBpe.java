package dev.shardlight.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Byte-level BPE as tokenizers runs Llama 3's tokenizer.json (and llama.cpp its "llama-bpe" GGUF
 * vocabulary): the Llama 3 regex splits text into words, each word's UTF-8 bytes become GPT-2
 * byte-level characters, a word that is itself a piece is emitted whole ({@code ignore_merges}),
 * and the rest merge by rank.
 */
final class ByteLevelBpe implements SegmentEncoder {
    private final BpeMerger merger;
    private final PieceIndex index;
    private final int[] byteIds = new int[256];
    private final boolean ignoreMerges;
    private final WordCache cache = new WordCache();

    ByteLevelBpe(Vocabulary vocab, MergeTable merges, boolean ignoreMerges) {
        this.merger = new BpeMerger(merges);
        this.index = vocab.index();
        this.ignoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++) {
            byteIds[b] = vocab.id(String.valueOf(ByteLevel.charOf(b)));
            if (byteIds[b] < 0) {
                throw new TokenizerFormatException("byte-level vocabulary lacks the piece for byte 0x"
                        + Integer.toHexString(b) + " ('" + ByteLevel.charOf(b) + "')");
            }
        }
    }

    @Override
    public void encode(String text, int from, int to, IntList out) {
        IntList ends = new IntList(16);
        Llama3Splitter.split(text, from, to, ends);
        int start = from;
        for (int k = 0; k < ends.size(); k++) {
            int end = ends.get(k);
            encodeWord(text, start, end, out);
            start = end;
        }
    }

    private void encodeWord(String text, int from, int to, IntList out) {
        boolean cacheable = to - from <= WordCache.MAX_WORD_CHARS;
        String word = null;
        if (cacheable) {
            word = text.substring(from, to);
            int[] hit = cache.get(word);
            if (hit != null) {
                out.addAll(hit);
                return;
            }
        }
        byte[] utf8 = (word != null ? word : text.substring(from, to)).getBytes(StandardCharsets.UTF_8);
        int n = utf8.length;
        int[] symbols = new int[n];
        if (ignoreMerges) {
            char[] chars = new char[n];
            for (int i = 0; i < n; i++) {
                chars[i] = ByteLevel.charOf(utf8[i]);
            }
            int whole = index.get(chars, 0, n);
            if (whole >= 0) {
                if (cacheable) {
                    cache.put(word, new int[] {whole});
                }
                out.add(whole);
                return;
            }
        }
        for (int i = 0; i < n; i++) {
            symbols[i] = byteIds[utf8[i] & 0xFF];
        }
        if (cacheable) {
            IntList ids = new IntList(n);
            merger.merge(symbols, n, ids);
            int[] result = ids.toArray();
            cache.put(word, result);
            out.addAll(result);
        } else {
            merger.merge(symbols, n, out);
        }
    }
}
