package dev.shardlight.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shardlight.engine.format.GgufFile;
import dev.shardlight.tokenizer.Tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code shardlight tokenize --tokenizer PATH (--text TEXT | --jsonl FILE) [--bos]}: prints one
 * JSON array of ids per input. JSONL input holds one object with a "text" field per line (blank
 * lines are skipped). Text is encoded as the Hugging Face tokenizers library does by default:
 * special tokens written in it are recognised; no BOS unless {@code --bos}.
 */
public final class TokenizeCommand implements Subcommand {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return "tokenize";
    }

    @Override
    public String summary() {
        return "text to token ids: --tokenizer PATH (--text TEXT | --jsonl FILE) [--bos]; PATH = tokenizer.json, its directory, or .gguf";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args args = new Args(argv, Set.of("tokenizer", "text", "jsonl"), Set.of("bos"));
        Tokenizer tokenizer = open(args.required("tokenizer"));
        String text = args.get("text");
        String jsonl = args.get("jsonl");
        if ((text == null) == (jsonl == null)) {
            throw new Args.UsageException("give exactly one of --text TEXT and --jsonl FILE");
        }
        boolean bos = args.flag("bos");
        if (text != null) {
            out.println(ids(tokenizer.encode(text, bos)));
            return 0;
        }
        Path file = Path.of(jsonl);
        if (!Files.isRegularFile(file)) {
            throw new Args.UsageException("--jsonl " + jsonl + ": no such file");
        }
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode row;
                try {
                    row = JSON.readTree(line);
                } catch (IOException e) {
                    err.println("shardlight tokenize: " + jsonl + " line " + lineNo + " is not JSON");
                    return 1;
                }
                JsonNode t = row == null ? null : row.get("text");
                if (t == null || !t.isTextual()) {
                    err.println("shardlight tokenize: " + jsonl + " line " + lineNo + " has no string field \"text\"");
                    return 1;
                }
                out.println(ids(tokenizer.encode(t.asText(), bos)));
            }
        }
        return 0;
    }

    static String ids(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(",", "[", "]"));
    }

    /** The tokenizer {@code --tokenizer PATH} names: a tokenizer.json, a directory holding one, or a GGUF file. */
    static Tokenizer open(String pathArg) throws IOException {
        Path path = Path.of(pathArg);
        if (!Files.exists(path)) {
            throw new Args.UsageException("--tokenizer " + pathArg + ": no such file or directory");
        }
        if (Files.isRegularFile(path) && isGguf(path)) {
            try (GgufFile gguf = GgufFile.open(path)) {
                return Tokenizer.fromGgufMetadata(gguf.metadata());
            }
        }
        return Tokenizer.fromHuggingFace(path);
    }

    private static boolean isGguf(Path path) throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] magic = in.readNBytes(4);
            return Arrays.equals(magic, "GGUF".getBytes(StandardCharsets.US_ASCII));
        }
    }
}
