package dev.shardlight.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PythonJsonTest {

    @Test
    void floatsAreSpelledAsPythonRepr() {
        assertEquals("1.0", PythonJson.floatRepr(1.0));
        assertEquals("0.0001", PythonJson.floatRepr(1e-4));
        assertEquals("1e-05", PythonJson.floatRepr(1e-5));
        assertEquals("1e+16", PythonJson.floatRepr(1e16));
        assertEquals("1000000000000000.0", PythonJson.floatRepr(1e15));
        assertEquals("-2.5", PythonJson.floatRepr(-2.5));
        assertEquals("0.1", PythonJson.floatRepr(0.1));
        assertEquals("1.2345678901234567e+20", PythonJson.floatRepr(1.2345678901234567e20));
    }

    @Test
    void dumpsLikeJsonDumpsWithEnsureAsciiOff() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "Zürich \"q\" \\ \n\t\u0001");
        m.put("n", List.of(1, 2.0, true, Map.of()));
        m.put("none", null);
        assertEquals("{\"s\": \"Zürich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"n\": [1, 2.0, true, {}], \"none\": null}", PythonJson.dumps(m));
        assertEquals("{\n    \"a\": [\n        1\n    ]\n}", new PythonJson(4, null, null, false, false).write(Map.of("a", List.of(1))));
    }
}
