package dev.shardlight.worker;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The batching keys of a model entry reach its spec; bad values are refused with the entry and key named. */
class ModelCatalogTest {

    private static ModelCatalog catalog(String entry) {
        return ModelCatalog.fromConfig(ConfigFactory.parseString("shardlight.models = [ { id = m, path = /x.gguf, " + entry + " } ]"));
    }

    @Test
    void batchingKeysReachTheSpec() {
        ModelSpec.Batching b = catalog("max-batch = 8, step-tokens = 96, prefix-caching = off, prefix-cache-shared = on,"
                + " long-prefill-chunk = 24").find("m").orElseThrow().batching();
        assertEquals(new ModelSpec.Batching(8, 96, false, true, 24), b);
    }

    @Test
    void leftOutKeysTakeTheDefaults() {
        ModelSpec.Batching b = catalog("replicas = 1").find("m").orElseThrow().batching();
        assertEquals(ModelSpec.Batching.DEFAULT, b);
        assertEquals(16, b.longPrefillChunk());
        assertTrue(b.prefixCaching());
        assertFalse(b.sharedPrefixCache());
    }

    @Test
    void badValuesNameTheEntryAndTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> catalog("long-prefill-chunk = -1"));
        assertTrue(e.getMessage().startsWith("shardlight.models[0]: long-prefill-chunk = -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> catalog("max-batch = 32, step-tokens = 16"));
        assertTrue(e.getMessage().contains("step-tokens = 16 must be >= max-batch (32)"), e.getMessage());
    }
}
