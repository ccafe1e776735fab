package dev.shardlight.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.time.LocalDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Jinjava set up to behave like the Jinja2 environment transformers renders chat templates in
 * ({@code ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)} plus its
 * {@code tojson}, {@code raise_exception} and {@code strftime_now}). Jinjava's defaults differ
 * from Jinja2 where chat templates notice: {@code {{- … }}} whitespace control, backslash escapes
 * in string literals, operator precedence, Python-style {@code str()} of values; its
 * {@link LegacyOverrides} switch those to Jinja2's behaviour. Filters and tests whose Jinjava
 * versions differ ({@code trim}, {@code tojson}, {@code iterable}) are replaced, and nested
 * interpretation is off so text inside a message is never evaluated as a template.
 */
final class JinjaEnvironment {
    private static final ThreadLocal<LocalDateTime> CLOCK = new ThreadLocal<>();
    private static final ThreadLocal<String> RAISED = new ThreadLocal<>();

    private JinjaEnvironment() {
    }

    static Jinjava create() {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false)
                .withMaxOutputSize(64L << 20)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withAllowAdjacentTextNodes(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withHandleBackslashInQuotesOnly(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava jinja = new Jinjava(config);
        var global = jinja.getGlobalContext();
        global.registerFunction(new ELFunctionDefinition("", "raise_exception", JinjaEnvironment.class, "raiseException", String.class));
        global.registerFunction(new ELFunctionDefinition("", "strftime_now", JinjaEnvironment.class, "strftimeNow", String.class));
        global.registerFilter(new TrimFilter());
        global.registerFilter(new ToJsonFilter());
        global.registerExpTest(new IterableTest());
        return jinja;
    }

    /** Runs {@code render} with {@code strftime_now} reporting {@code now}. */
    static <T> T withClock(LocalDateTime now, Supplier<T> render) {
        CLOCK.set(now);
        RAISED.remove();
        try {
            T result = render.get();
            String raised = RAISED.get();
            if (raised != null) {
                throw new ChatTemplateException(raised);
            }
            return result;
        } finally {
            CLOCK.remove();
            RAISED.remove();
        }
    }

    /** The message of a {@code raise_exception} call behind {@code error}, if it was one. */
    static String raisedMessage(TemplateError error) {
        return RAISED.get();
    }

    public static String raiseException(String message) {
        RAISED.set(message);
        throw new ChatTemplateException(message);
    }

    public static String strftimeNow(String format) {
        LocalDateTime now = CLOCK.get();
        return Strftime.format(format, now != null ? now : LocalDateTime.now());
    }

    /** Jinja2's {@code trim}: Python's {@code str.strip(chars)}. */
    private static final class TrimFilter implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, (Object[]) args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            String s = var == null ? "" : var.toString();
            Object chars = args.length > 0 ? args[0] : kwargs.get("chars");
            int from = 0;
            int to = s.length();
            if (chars == null) {
                while (from < to && ContentMarkers.isPythonSpace(s.charAt(from))) {
                    from++;
                }
                while (to > from && ContentMarkers.isPythonSpace(s.charAt(to - 1))) {
                    to--;
                }
            } else {
                String set = chars.toString();
                while (from < to && set.indexOf(s.charAt(from)) >= 0) {
                    from++;
                }
                while (to > from && set.indexOf(s.charAt(to - 1)) >= 0) {
                    to--;
                }
            }
            return s.substring(from, to);
        }
    }

    /** transformers' {@code tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}. */
    private static final class ToJsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return filter(var, interpreter, (Object[]) args, Map.of());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object ensureAscii = arg(args, kwargs, 0, "ensure_ascii");
            Object indent = arg(args, kwargs, 1, "indent");
            Object separators = arg(args, kwargs, 2, "separators");
            Object sortKeys = arg(args, kwargs, 3, "sort_keys");
            String item = null;
            String key = null;
            if (separators instanceof List<?> seps && seps.size() == 2) {
                item = String.valueOf(seps.get(0));
                key = String.valueOf(seps.get(1));
            }
            Integer indentWidth = indent instanceof Number n ? Integer.valueOf(n.intValue())
                    : indent instanceof String s && !s.isEmpty() ? Integer.valueOf(Integer.parseInt(s.trim())) : null;
            return new PythonJson(indentWidth, item, key, truthy(sortKeys), truthy(ensureAscii)).write(var);
        }

        private static Object arg(Object[] args, Map<String, Object> kwargs, int position, String name) {
            return kwargs.containsKey(name) ? kwargs.get(name) : (args.length > position ? args[position] : null);
        }

        private static boolean truthy(Object o) {
            return o instanceof Boolean b ? b : o != null && !"false".equalsIgnoreCase(o.toString()) && !"0".equals(o.toString());
        }
    }

    /** Jinja2's {@code iterable}: strings and mappings are iterable too. */
    private static final class IterableTest implements ExpTest {
        @Override
        public String getName() {
            return "iterable";
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return var instanceof CharSequence || var instanceof Collection<?> || var instanceof Map<?, ?>
                    || var instanceof Iterable<?> || (var != null && var.getClass().isArray());
        }
    }
}
