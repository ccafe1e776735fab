package dev.shardlight.gateway.routing;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** shardlight.intents parsing and the refusals a misconfigured router gets at start. */
class IntentConfigTest {
    static IntentConfig parse(String hocon) {
        return IntentConfig.fromConfig(ConfigFactory.parseString(hocon));
    }

    static String error(String hocon) {
        return assertThrows(IllegalArgumentException.class, () -> parse(hocon)).getMessage();
    }

    @Test
    void readsIntentsExamplesAndTheLadder() {
        IntentConfig c = parse("""
                shardlight.intents {
                  router-model = r, fallback-model = f, min-confidence = 0.4, timeout = 750ms
                  intents = [ { name = a, description = "about a", target = t1, examples = ["x?", "y"] }, { name = b, target = t2 } ]
                  ladder { models = [t1, t2], queue-threshold = 3 }
                }""");
        assertEquals("r", c.routerModel());
        assertEquals(0.4, c.minConfidence());
        assertEquals(750, c.timeout().toMillis());
        assertEquals(List.of("t1", "t2"), c.ladder());
        assertEquals(3, c.ladderThreshold());
        assertEquals(new IntentConfig.Intent("a", "about a", List.of("x?", "y"), "t1"), c.intents().get(0));
        assertEquals("\nRequest: x?\nCategory: a\n\nRequest: y\nCategory: a\n", c.examplesBlock());
        assertEquals(IntentConfig.DEFAULT_TEMPLATE, c.promptTemplate());
        c.checkModelsDeclared(List.of("r", "f", "t1", "t2"));
        assertEquals("shardlight.intents names model \"t2\", which is not declared in shardlight.models (declared: r, f, t1)",
                assertThrows(IllegalArgumentException.class, () -> c.checkModelsDeclared(List.of("r", "f", "t1"))).getMessage());
    }

    @Test
    void routingIsOffWithoutARouterModel() {
        assertFalse(parse("a = 1").enabled());
        assertFalse(parse("shardlight.intents.router-model = \"\"").enabled());
    }

    @Test
    void misconfigurationsAreRefusedWithTheKey() {
        assertEquals("shardlight.intents.intents: router-model r is set but no intents are declared",
                error("shardlight.intents { router-model = r, fallback-model = f }"));
        assertEquals("shardlight.intents.fallback-model: required when router-model is set",
                error("shardlight.intents { router-model = r, intents = [{ name = a, target = t }] }"));
        assertEquals("shardlight.intents.intents: intent \"a\" is declared twice",
                error("shardlight.intents { router-model = r, fallback-model = f, intents = [{ name = a, target = t }, { name = a, target = u }] }"));
        assertEquals("shardlight.intents.min-confidence = 1.5 must be in [0, 1]",
                error("shardlight.intents { router-model = r, fallback-model = f, min-confidence = 1.5, intents = [{ name = a, target = t }] }"));
        assertEquals("shardlight.intents.prompt-template must contain {input}",
                error("shardlight.intents { router-model = r, fallback-model = f, prompt-template = \"Category:\", intents = [{ name = a, target = t }] }"));
    }

    @Test
    void templatesAreFilledInOnePassSoInputCannotInjectPlaceholders() {
        assertEquals("L: - a\nIn: {labels} and {x}",
                LabelClassifier.render("L: {labels}\nIn: {input}", Map.of("labels", "- a", "input", "{labels} and {x}")));
        assertEquals("{unknown} x", LabelClassifier.render("{unknown} {input}", Map.of("input", "x")));
    }
}
