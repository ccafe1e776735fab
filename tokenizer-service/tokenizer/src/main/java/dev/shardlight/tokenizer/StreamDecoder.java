package dev.shardlight.tokenizer;

import java.util.Arrays;

/**
 * Incremental detokenizer for streaming: {@link #next(int)} returns the text that the ids so far
 * have settled, {@link #finish()} the rest, and all deltas concatenated equal the full decode.
 *
 * <p>A delta never ends inside a UTF-8 sequence. Byte-level pieces (Llama 3) are buffered until
 * their bytes form whole characters; a definitely ill-formed byte becomes U+FFFD at once, as
 * {@code String::from_utf8_lossy} treats it in the full decode. Byte-fallback pieces (Gemma's
 * {@code <0xXX>}) are held until their run ends, because tokenizers' ByteFallback decoder turns
 * a run that is not valid UTF-8 into one U+FFFD per byte. Skipped special tokens are dropped
 * before decoding, as tokenizers drops them, so they neither end a run nor flush bytes.
 *
 * <p>Not thread-safe: one per stream.
 */
public final class StreamDecoder {
    private final Vocabulary vocab;
    private final boolean skipSpecial;
    private byte[] pending = new byte[16];
    private int pendingLength;

    StreamDecoder(Vocabulary vocab, boolean skipSpecialTokens) {
        this.vocab = vocab;
        this.skipSpecial = skipSpecialTokens;
    }

    /** Accepts the next id and returns the newly settled text, possibly empty. */
    public String next(int id) {
        if (!vocab.contains(id)) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + vocab.size() + ")");
        }
        if (skipSpecial && vocab.isSpecial(id)) {
            return "";
        }
        byte[] b = vocab.bytes(id);
        if (vocab.decoding() == Vocabulary.Decoding.BYTE_LEVEL) {
            append(b);
            return drainByteLevel(false);
        }
        if (vocab.isFallbackByte(id)) {
            append(b);
            return "";
        }
        String run = flushFallbackRun();
        String text = new String(b, java.nio.charset.StandardCharsets.UTF_8);
        return run.isEmpty() ? text : run + text;
    }

    /** Ends the stream: returns the held bytes, with U+FFFD where they do not form characters. */
    public String finish() {
        return vocab.decoding() == Vocabulary.Decoding.BYTE_LEVEL ? drainByteLevel(true) : flushFallbackRun();
    }

    private void append(byte[] b) {
        if (pendingLength + b.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + b.length));
        }
        System.arraycopy(b, 0, pending, pendingLength, b.length);
        pendingLength += b.length;
    }

    private String drainByteLevel(boolean end) {
        int settled = 0;
        while (settled < pendingLength) {
            int n = Utf8.sequenceLength(pending, settled, pendingLength);
            if (n > 0) {
                settled += n;
            } else if (n == 0) {
                settled += Utf8.maximalSubpart(pending, settled, pendingLength);
            } else if (end) {
                settled = pendingLength;
            } else {
                break;
            }
        }
        if (settled == 0) {
            return "";
        }
        StringBuilder sb = new StringBuilder(settled);
        Utf8.decodeLossy(pending, 0, settled, sb);
        System.arraycopy(pending, settled, pending, 0, pendingLength - settled);
        pendingLength -= settled;
        return sb.toString();
    }

    private String flushFallbackRun() {
        if (pendingLength == 0) {
            return "";
        }
        String s;
        if (Utf8.isValid(pending, 0, pendingLength)) {
            s = new String(pending, 0, pendingLength, java.nio.charset.StandardCharsets.UTF_8);
        } else {
            s = "\uFFFD".repeat(pendingLength);
        }
        pendingLength = 0;
        return s;
    }
}
