package dev.shardlight.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.IntStream;

/**
 * The sections of a Hugging Face tokenizer.json that Shardlight uses. The vocabulary (262k
 * entries for Gemma) and merges (515k) are read straight from the file's bytes; the small
 * pipeline sections become plain Java maps and lists. No JSON library is involved: loading a
 * 33 MB file is dominated by these two sections, and a general parser's per-token objects and
 * class warm-up cost more than the whole specialised read.
 */
final class TokenizerJsonFile {
    List<?> addedTokens = List.of();
    Object normalizer;
    Object preTokenizer;
    Object postProcessor;
    Object decoder;
    final Map<String, Object> model = new LinkedHashMap<>();
    String[] pieces;
    /** Merge rules as (left, right, merged) model ids, in rank order. */
    int[] merges = new int[0];

    private Utf8PieceIndex modelIndex;
    private CompletableFuture<MergeSpans> speculative;

    /** Where each merge's halves lie in the file (4 offsets per merge), merges with JSON escapes aside. */
    private record MergeSpans(int start, int end, IntList spans, Map<Integer, String[]> escaped) {
    }

    static TokenizerJsonFile parse(byte[] json) {
        TokenizerJsonFile f = new TokenizerJsonFile();
        // The merges (three quarters of Gemma's file) are scanned on another core while this thread
        // reads the vocabulary; the guess of where they start is checked when the parse gets there.
        f.speculative = CompletableFuture.supplyAsync(() -> {
            int at = findMergesArray(json);
            return at < 0 ? null : scanMergeSpans(new JsonScanner(json), at);
        });
        JsonScanner s = new JsonScanner(json);
        s.expect('{');
        if (!s.empty('}')) {
            do {
                String field = s.readString();
                s.expect(':');
                switch (field) {
                    case "added_tokens" -> f.addedTokens = (List<?>) s.readValue();
                    case "normalizer" -> f.normalizer = s.readValue();
                    case "pre_tokenizer" -> f.preTokenizer = s.readValue();
                    case "post_processor" -> f.postProcessor = s.readValue();
                    case "decoder" -> f.decoder = s.readValue();
                    case "model" -> f.parseModel(s);
                    default -> s.skipValue();
                }
            } while (s.more('}'));
        }
        if (f.pieces == null) {
            throw new TokenizerFormatException("no model.vocab");
        }
        f.modelIndex = null;
        f.speculative.cancel(false);
        f.speculative = null;
        return f;
    }

    private void parseModel(JsonScanner s) {
        s.expect('{');
        if (s.empty('}')) {
            return;
        }
        do {
            String field = s.readString();
            s.expect(':');
            switch (field) {
                case "vocab" -> {
                    pieces = parseVocab(s);
                    modelIndex = new Utf8PieceIndex(pieces);
                }
                case "merges" -> merges = resolveMerges(mergeSpans(s), s.buf);
                default -> model.put(field, s.readValue());
            }
        } while (s.more('}'));
    }

    private static String[] parseVocab(JsonScanner s) {
        s.expect('{');
        List<String> keys = new ArrayList<>(1 << 18);
        int[] ids = new int[1 << 18];
        int max = -1;
        if (!s.empty('}')) {
            do {
                String piece = s.readString();
                s.expect(':');
                int id = s.readInt();
                if (id < 0) {
                    throw new TokenizerFormatException("model.vocab gives \"" + piece + "\" a negative id");
                }
                if (keys.size() == ids.length) {
                    ids = java.util.Arrays.copyOf(ids, ids.length * 2);
                }
                ids[keys.size()] = id;
                keys.add(piece);
                max = Math.max(max, id);
            } while (s.more('}'));
        }
        String[] out = new String[max + 1];
        for (int i = 0; i < keys.size(); i++) {
            out[ids[i]] = keys.get(i);
        }
        return out;
    }

    private MergeSpans mergeSpans(JsonScanner s) {
        if (modelIndex == null) {
            throw new TokenizerFormatException("model.merges comes before model.vocab; re-save the file with the tokenizers library");
        }
        s.skipWhitespace();
        MergeSpans spans = null;
        try {
            spans = speculative.join();
        } catch (CompletionException e) {
            // a wrong guess may fail to parse; the sequential scan below reports real errors
        }
        if (spans == null || spans.start() != s.pos) {
            spans = scanMergeSpans(s, s.pos);
        }
        s.pos = spans.end();
        return spans;
    }

    /** The offset of the '[' of {@code "merges": [}, or -1: a guess, verified by the caller. */
    private static int findMergesArray(byte[] b) {
        byte[] key = "\"merges\"".getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + key.length < b.length; i++) {
            for (int k = 0; k < key.length; k++) {
                if (b[i + k] != key[k]) {
                    continue outer;
                }
            }
            int j = i + key.length;
            while (j < b.length && (b[j] == ' ' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t')) {
                j++;
            }
            if (j >= b.length || b[j] != ':') {
                continue;
            }
            j++;
            while (j < b.length && (b[j] == ' ' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t')) {
                j++;
            }
            if (j < b.length && b[j] == '[') {
                return j;
            }
        }
        return -1;
    }

    /** Merges as ["left", "right"] pairs or "left right" strings, from the '[' at {@code start}. */
    private static MergeSpans scanMergeSpans(JsonScanner s, int start) {
        s.pos = start;
        byte[] b = s.buf;
        IntList spans = new IntList(1 << 20);
        Map<Integer, String[]> escaped = new HashMap<>();
        s.expect('[');
        if (!s.empty(']')) {
            do {
                int index = spans.size() / 4;
                if (s.peek() == '"') {
                    int end = s.scanString();
                    if (end < 0) {
                        escaped.put(index, splitMerge(s.lastString, index));
                        addSpans(spans, -1, -1, -1, -1);
                    } else {
                        int sp = s.stringStart + 1;
                        while (sp < end && b[sp] != ' ') {
                            sp++;
                        }
                        if (sp >= end) {
                            throw new TokenizerFormatException("merge " + index + " is not \"left right\"");
                        }
                        addSpans(spans, s.stringStart, sp, sp + 1, end);
                    }
                } else {
                    s.expect('[');
                    int endA = s.scanString();
                    int fromA = s.stringStart;
                    String a = endA < 0 ? s.lastString : null;
                    s.expect(',');
                    int endB = s.scanString();
                    int fromB = s.stringStart;
                    String right = endB < 0 ? s.lastString : null;
                    s.expect(']');
                    if (a != null || right != null) {
                        escaped.put(index, new String[] {
                                a != null ? a : new String(b, fromA, endA - fromA, StandardCharsets.UTF_8),
                                right != null ? right : new String(b, fromB, endB - fromB, StandardCharsets.UTF_8)});
                        addSpans(spans, -1, -1, -1, -1);
                    } else {
                        addSpans(spans, fromA, endA, fromB, endB);
                    }
                }
            } while (s.more(']'));
        }
        return new MergeSpans(start, s.pos, spans, escaped);
    }

    /** Looks every merge's halves up in the vocabulary; bound by memory latency, so run on all cores. */
    private int[] resolveMerges(MergeSpans m, byte[] b) {
        IntList spans = m.spans();
        Map<Integer, String[]> escaped = m.escaped();
        int n = spans.size() / 4;
        int[] triples = new int[3 * n];
        Utf8PieceIndex index = modelIndex;
        int tasks = Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), n / 50_000));
        IntStream.range(0, tasks).parallel().forEach(t -> {
            for (int i = t * n / tasks, end = (t + 1) * n / tasks; i < end; i++) {
                String[] e = escaped.get(i);
                if (e == null) {
                    int aFrom = spans.get(4 * i);
                    int aTo = spans.get(4 * i + 1);
                    int bFrom = spans.get(4 * i + 2);
                    int bTo = spans.get(4 * i + 3);
                    triples[3 * i] = index.get(b, aFrom, aTo);
                    triples[3 * i + 1] = index.get(b, bFrom, bTo);
                    triples[3 * i + 2] = index.getConcatenation(b, aFrom, aTo, bFrom, bTo);
                } else {
                    byte[] l = e[0].getBytes(StandardCharsets.UTF_8);
                    byte[] r = e[1].getBytes(StandardCharsets.UTF_8);
                    byte[] lr = (e[0] + e[1]).getBytes(StandardCharsets.UTF_8);
                    triples[3 * i] = index.get(l, 0, l.length);
                    triples[3 * i + 1] = index.get(r, 0, r.length);
                    triples[3 * i + 2] = index.get(lr, 0, lr.length);
                }
            }
        });
        for (int i = 0; i < n; i++) {
            if (triples[3 * i] < 0 || triples[3 * i + 1] < 0 || triples[3 * i + 2] < 0) {
                throw new TokenizerFormatException("merge " + i + " uses a piece that is not in model.vocab");
            }
        }
        return triples;
    }

    private static String[] splitMerge(String m, int index) {
        int sp = m.indexOf(' ', 1);
        if (sp < 0) {
            throw new TokenizerFormatException("merge " + index + " is not \"left right\"");
        }
        return new String[] {m.substring(0, sp), m.substring(sp + 1)};
    }

    private static void addSpans(IntList spans, int a, int b, int c, int d) {
        spans.add(a);
        spans.add(b);
        spans.add(c);
        spans.add(d);
    }
}
