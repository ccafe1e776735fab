package dev.shardlight.cli;

import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.shardlight.tokenizer.ChatPrompt;
import dev.shardlight.tokenizer.ChatTemplate;
import dev.shardlight.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code shardlight chat-template --tokenizer PATH --messages FILE.json [--add-generation-prompt]
 * [--date YYYY-MM-DD] [--template FILE.jinja]}: renders a chat with the model's own template
 * (tokenizer_config.json or GGUF) and prints {@code {"text": ..., "ids": [...]}}. FILE.json is a
 * list of messages ({"role", "content", …}) or an object with "messages" plus optionally "tools"
 * and other template variables. Only the template's own markers become control tokens; message
 * content that spells one (a user typing "&lt;end_of_turn&gt;") is encoded as plain text.
 */
public final class ChatTemplateCommand implements Subcommand {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Non-ASCII escaped as \\uXXXX: the output survives any console encoding. */
    private static final ObjectMapper OUT = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build();
    private static final TypeReference<List<Map<String, Object>>> LIST_OF_MAPS = new TypeReference<>() {
    };

    @Override
    public String name() {
        return "chat-template";
    }

    @Override
    public String summary() {
        return "render a chat with the model's template: --tokenizer PATH --messages FILE.json [--add-generation-prompt]"
                + " [--date YYYY-MM-DD] [--template FILE.jinja]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args args = new Args(argv, Set.of("tokenizer", "messages", "date", "template"), Set.of("add-generation-prompt"));
        String tokenizerPath = args.required("tokenizer");
        Path messagesFile = Path.of(args.required("messages"));
        if (!Files.isRegularFile(messagesFile)) {
            throw new Args.UsageException("--messages " + messagesFile + ": no such file");
        }
        JsonNode input;
        try {
            input = JSON.readTree(messagesFile.toFile());
        } catch (IOException e) {
            err.println("shardlight chat-template: " + messagesFile + " is not JSON: " + e.getMessage());
            return 1;
        }
        JsonNode messagesNode = input != null && input.isArray() ? input : input == null ? null : input.get("messages");
        if (messagesNode == null || !messagesNode.isArray() || messagesNode.isEmpty()) {
            err.println("shardlight chat-template: " + messagesFile
                    + " must hold a non-empty list of messages, or an object with one under \"messages\"");
            return 1;
        }
        ChatTemplate.Options options = ChatTemplate.Options.defaults().withGenerationPrompt(args.flag("add-generation-prompt"));
        if (args.get("date") != null) {
            try {
                options = options.withNow(LocalDate.parse(args.get("date")).atStartOfDay());
            } catch (DateTimeParseException e) {
                throw new Args.UsageException("--date " + args.get("date") + " is not YYYY-MM-DD");
            }
        }
        if (input.isObject()) {
            for (var field : input.properties()) {
                if (field.getKey().equals("tools")) {
                    options = options.withTools(JSON.convertValue(field.getValue(), LIST_OF_MAPS));
                } else if (!field.getKey().equals("messages")) {
                    options = options.with(field.getKey(), JSON.convertValue(field.getValue(), Object.class));
                }
            }
        }

        Tokenizer tokenizer = TokenizeCommand.open(tokenizerPath);
        ChatTemplate template;
        if (args.get("template") != null) {
            template = tokenizer.chatTemplate(Files.readString(Path.of(args.get("template"))));
        } else {
            template = tokenizer.chatTemplate().orElse(null);
            if (template == null) {
                err.println("shardlight chat-template: " + tokenizerPath + " carries no chat template (tokenizer_config.json "
                        + "chat_template or GGUF tokenizer.chat_template); pass --template FILE.jinja");
                return 1;
            }
        }
        ChatPrompt prompt = template.apply(JSON.convertValue(messagesNode, LIST_OF_MAPS), options);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("text", prompt.text());
        result.put("ids", prompt.ids());
        out.println(OUT.writeValueAsString(result));
        return 0;
    }
}
