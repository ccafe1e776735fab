package dev.shardlight.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.FatalTemplateErrorsException;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;

import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's own Jinja chat template (tokenizer_config.json {@code chat_template} or GGUF
 * {@code tokenizer.chat_template}), rendered as transformers' {@code apply_chat_template} renders
 * it and then tokenized so that message content never becomes control tokens.
 *
 * <p>The context matches transformers': {@code messages}, {@code tools}, {@code documents},
 * {@code add_generation_prompt}, the special-token strings ({@code bos_token}, …), any extra
 * variables, and the globals {@code raise_exception} and {@code strftime_now}; {@code tojson} is
 * Python's {@code json.dumps} and {@code trim} Python's {@code str.strip}. The clock behind
 * {@code strftime_now} is injectable (Llama 3.2 writes today's date into its system header).
 */
public final class ChatTemplate {
    /** Rendering options; {@link #defaults()} then the {@code with…} methods. */
    public record Options(boolean addGenerationPrompt, List<? extends Map<String, ?>> tools, LocalDateTime now,
                          Map<String, Object> variables) {
        public static Options defaults() {
            return new Options(false, null, null, Map.of());
        }

        public Options withGenerationPrompt(boolean add) {
            return new Options(add, tools, now, variables);
        }

        /** Tool definitions (JSON schemas), for templates that support them. */
        public Options withTools(List<? extends Map<String, ?>> toolDefinitions) {
            return new Options(addGenerationPrompt, toolDefinitions, now, variables);
        }

        /** The time {@code strftime_now} reports; by default the wall clock at rendering. */
        public Options withNow(LocalDateTime time) {
            return new Options(addGenerationPrompt, tools, time, variables);
        }

        /** An extra template variable, as transformers passes extra keyword arguments. */
        public Options with(String name, Object value) {
            Map<String, Object> v = new LinkedHashMap<>(variables);
            v.put(name, value);
            return new Options(addGenerationPrompt, tools, now, v);
        }
    }

    private static final Jinjava JINJA = JinjaEnvironment.create();

    private final String source;
    /** The source with Jinja2's operator precedence made explicit for Jinjava. */
    private final String jinjavaSource;
    private final Map<String, String> specialTokens;
    private final Tokenizer tokenizer;

    ChatTemplate(String source, Map<String, String> specialTokens, Tokenizer tokenizer) {
        this.source = source;
        this.jinjavaSource = JinjaSource.normalize(source);
        this.specialTokens = Map.copyOf(specialTokens);
        this.tokenizer = tokenizer;
    }

    public String source() {
        return source;
    }

    /** The prompt text, as {@code apply_chat_template(..., tokenize=False)} returns it. */
    public String render(List<? extends Map<String, ?>> messages, Options options) {
        return renderRaw(messages, options.tools(), options);
    }

    /**
     * The prompt text and its ids. Control tokens come only from the template's own text: a
     * message that says "&lt;end_of_turn&gt;" is encoded as the plain pieces of those characters.
     * For messages without such look-alikes the ids equal {@code apply_chat_template(...,
     * tokenize=True)}.
     */
    public ChatPrompt apply(List<? extends Map<String, ?>> messages, Options options) {
        ContentMarkers markers = new ContentMarkers(tokenizer.addedTokens());
        @SuppressWarnings("unchecked")
        List<? extends Map<String, ?>> tools = options.tools() == null ? null
                : (List<? extends Map<String, ?>>) markers.markLookAlikes(options.tools());
        @SuppressWarnings("unchecked")
        List<? extends Map<String, ?>> marked = (List<? extends Map<String, ?>>) (List<?>) markers.markMessages(messages);
        ContentMarkers.Unmarked unmarked = ContentMarkers.unmark(renderRaw(marked, tools, options));
        String plain = renderRaw(messages, options.tools(), options);
        if (!plain.equals(unmarked.text())) {
            throw new ChatTemplateException("the chat template inspects message text (its length, slices or characters), "
                    + "so content cannot be traced through it; render it with render() and encode trusted text yourself");
        }
        int[] ids = tokenizer.encode(unmarked.text(), unmarked::allows, false);
        return new ChatPrompt(unmarked.text(), ids);
    }

    private String renderRaw(List<? extends Map<String, ?>> messages, List<? extends Map<String, ?>> tools, Options options) {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("a chat needs at least one message");
        }
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.putAll(options.variables());
        context.put("messages", messages);
        context.put("tools", tools);
        context.put("documents", null);
        context.put("add_generation_prompt", options.addGenerationPrompt());
        // transformers' globals: templates test "strftime_now is defined" before calling it
        context.put("strftime_now", "<function strftime_now>");
        context.put("raise_exception", "<function raise_exception>");
        LocalDateTime now = options.now() != null ? options.now() : LocalDateTime.now();
        RenderResult result;
        try {
            result = JinjaEnvironment.withClock(now, () -> JINJA.renderForResult(jinjavaSource, context));
        } catch (FatalTemplateErrorsException e) {
            throw new ChatTemplateException("chat template failed: " + e.getMessage(), e);
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                String raised = JinjaEnvironment.raisedMessage(error);
                throw new ChatTemplateException(raised != null ? raised
                        : "chat template failed at line " + error.getLineno() + ": " + error.getMessage());
            }
        }
        return result.getOutput();
    }
}
