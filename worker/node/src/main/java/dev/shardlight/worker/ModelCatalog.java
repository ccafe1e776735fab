package dev.shardlight.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The models a cluster serves, read from {@code shardlight.models} (a list of objects, the same
 * on every node):
 * <pre>
 * shardlight.models = [
 *   { id = "gemma3-1b", path = "/models/gemma-3-1b-it-q8_0.gguf", replicas = 2,
 *     context-length = 4096, kv-budget-mb = 256, weights-mb = 0, queue-capacity = 8,
 *     max-batch = 16, step-tokens = 64, prefix-caching = on, prefix-cache-shared = off,
 *     long-prefill-chunk = 16 }
 * ]
 * </pre>
 */
public final class ModelCatalog {
    private final Map<String, ModelSpec> models;
    private final List<String> order;

    public ModelCatalog(List<ModelSpec> specs) {
        Map<String, ModelSpec> m = new LinkedHashMap<>();
        for (ModelSpec s : specs) {
            if (m.put(s.id(), s) != null) {
                throw new IllegalArgumentException("model id \"" + s.id() + "\" is declared twice in shardlight.models");
            }
        }
        this.models = Map.copyOf(m);
        this.order = List.copyOf(m.keySet());
    }

    public static ModelCatalog fromConfig(Config root) {
        List<ModelSpec> specs = new ArrayList<>();
        int i = 0;
        for (Config c : root.getConfigList("shardlight.models")) {
            String where = "shardlight.models[" + i++ + "]";
            try {
                specs.add(new ModelSpec(c.getString("id"), c.getString("path"),
                        c.hasPath("replicas") ? c.getInt("replicas") : 1,
                        c.hasPath("context-length") ? c.getInt("context-length") : 4096,
                        (c.hasPath("kv-budget-mb") ? c.getLong("kv-budget-mb") : 256) << 20,
                        (c.hasPath("weights-mb") ? c.getLong("weights-mb") : 0) << 20,
                        c.hasPath("queue-capacity") ? c.getInt("queue-capacity") : 8,
                        new ModelSpec.Batching(
                                c.hasPath("max-batch") ? c.getInt("max-batch") : ModelSpec.Batching.DEFAULT.maxBatch(),
                                c.hasPath("step-tokens") ? c.getInt("step-tokens") : ModelSpec.Batching.DEFAULT.stepTokens(),
                                !c.hasPath("prefix-caching") || c.getBoolean("prefix-caching"),
                                c.hasPath("prefix-cache-shared") && c.getBoolean("prefix-cache-shared"),
                                c.hasPath("long-prefill-chunk") ? c.getInt("long-prefill-chunk")
                                        : ModelSpec.Batching.DEFAULT.longPrefillChunk())));
            } catch (ConfigException | IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
        }
        return new ModelCatalog(specs);
    }

    public Optional<ModelSpec> find(String id) {
        return Optional.ofNullable(models.get(id));
    }

    /** Declared models in declaration order. */
    public Collection<ModelSpec> models() {
        return order.stream().map(models::get).toList();
    }

    /** Every declared replica id, model by model. */
    public List<ReplicaId> replicas() {
        List<ReplicaId> out = new ArrayList<>();
        for (ModelSpec s : models()) {
            for (int r = 0; r < s.replicas(); r++) {
                out.add(s.replica(r));
            }
        }
        return out;
    }

    public List<String> ids() {
        return order;
    }
}
