package dev.shardlight.tokenizer;

/** Encodes text that holds no added tokens: normalization, pre-tokenization and the BPE model. */
interface SegmentEncoder {
    void encode(String text, int from, int to, IntList out);
}
