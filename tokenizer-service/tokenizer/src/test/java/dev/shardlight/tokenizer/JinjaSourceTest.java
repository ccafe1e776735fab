package dev.shardlight.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JinjaSourceTest {

    @Test
    void unaryNotTakesTheWholeComparisonAsInJinja2() {
        assertEquals("{% if not ( x is defined )%}", JinjaSource.normalize("{% if not x is defined %}"));
        assertEquals("{{ a and not ( b == 1 )or c }}", JinjaSource.normalize("{{ a and not b == 1 or c }}"));
        assertEquals("{{- 'y' if not ( x|length == 1 )else 'n' -}}", JinjaSource.normalize("{{- 'y' if not x|length == 1 else 'n' -}}"));
    }

    @Test
    void isNotAndNotInAreLeftAlone() {
        String s = "{% if x is not none and y not in z %}'not' {# not a #}{% endif %}";
        assertEquals(s, JinjaSource.normalize(s));
    }

    @Test
    void renderedResultsMatchJinja2Semantics() {
        ChatTemplate t = TestTokenizers.llama().chatTemplate(
                "{% if not tools is defined %}A{% endif %}{% if not messages|length == 1 %}B{% endif %}"
                        + "{% if not (messages[0].role == 'user') %}C{% endif %}{{ 'D' if not add_generation_prompt else 'E' }}");
        assertEquals("BD", t.render(List.of(Map.of("role", "user", "content", "x"), Map.of("role", "assistant", "content", "y")),
                ChatTemplate.Options.defaults().withTools(List.of(Map.of("type", "function")))));
    }
}
