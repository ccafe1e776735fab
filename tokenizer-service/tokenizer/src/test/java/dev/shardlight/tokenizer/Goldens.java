package dev.shardlight.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reads the JSONL goldens written by src/test/python/make_goldens.py. */
final class Goldens {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One corpus line and what tokenizers made of it. */
    record Encoding(String text, String source, int[] ids, int[] untrusted, String decoded, String decodedSkip) {
    }

    private Goldens() {
    }

    static List<JsonNode> read(String name) {
        List<JsonNode> rows = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                Goldens.class.getResourceAsStream("/goldens/" + name), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                rows.add(JSON.readTree(line));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return rows;
    }

    static List<Encoding> encodings(String tokenizer) {
        List<JsonNode> corpus = read("corpus.jsonl");
        List<JsonNode> enc = read("encode-" + tokenizer + ".jsonl");
        List<Encoding> out = new ArrayList<>();
        for (int i = 0; i < corpus.size(); i++) {
            JsonNode c = corpus.get(i);
            JsonNode e = enc.get(i);
            String text = c.get("text").asText();
            int[] ids = ints(e.get("ids"));
            String decoded = e.has("decoded") ? e.get("decoded").asText() : text;
            out.add(new Encoding(text, c.get("source").asText(), ids,
                    e.has("untrusted") ? ints(e.get("untrusted")) : ids,
                    decoded, e.has("decoded_skip") ? e.get("decoded_skip").asText() : decoded));
        }
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
