package dev.shardlight.gateway.openai;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ToolCallsTest {
    static final Set<String> TOOLS = Set.of("get_weather", "get_time");

    @Test
    void llamaJsonCall() {
        var calls = ToolCalls.parse("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", TOOLS);
        assertEquals(1, calls.size());
        assertEquals("function", calls.getFirst().get("type").asText());
        assertEquals("get_weather", calls.getFirst().at("/function/name").asText());
        assertEquals("{\"city\":\"Oslo\"}", calls.getFirst().at("/function/arguments").asText());
        assertTrue(calls.getFirst().get("id").asText().startsWith("call_"));
    }

    @Test
    void gemmaFencedCallsAndArrays() {
        var calls = ToolCalls.parse("```json\n[{\"name\": \"get_time\", \"arguments\": {}}, "
                + "{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Rome\\\"}\"}]\n```", TOOLS);
        assertEquals(2, calls.size());
        assertEquals("{\"city\": \"Rome\"}", calls.get(1).at("/function/arguments").asText());
        assertEquals(1, ToolCalls.indexed(calls).get(1).get("index").asInt());
    }

    @Test
    void anythingElseIsContent() {
        assertTrue(ToolCalls.parse("The weather is fine.", TOOLS).isEmpty());
        assertTrue(ToolCalls.parse("{\"name\": \"rm_rf\", \"parameters\": {}}", TOOLS).isEmpty(), "not an offered tool");
        assertTrue(ToolCalls.parse("{\"name\": \"get_time\"", TOOLS).isEmpty(), "truncated JSON");
        assertTrue(ToolCalls.mayStart("  {\"na"));
        assertTrue(ToolCalls.mayStart("<|pyth"));
        assertTrue(ToolCalls.mayStart("``"));
        assertFalse(ToolCalls.mayStart("Hello"));
    }
}
