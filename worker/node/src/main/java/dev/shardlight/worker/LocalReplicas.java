package dev.shardlight.worker;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The replicas running on this node, readable from any thread: each {@link ModelReplica} entity
 * registers itself while it lives here. Worker nodes export their own replicas' gauges from it
 * (gateway/router nodes read the whole cluster from the router's view instead).
 */
public final class LocalReplicas {
    private final Map<String, Supplier<ModelReplica.Status>> replicas = new ConcurrentHashMap<>();

    void register(String replicaId, Supplier<ModelReplica.Status> status) {
        replicas.put(replicaId, status);
    }

    /** Removes the entry only if it is still this incarnation's. */
    void unregister(String replicaId, Supplier<ModelReplica.Status> status) {
        replicas.remove(replicaId, status);
    }

    /** The current status of every replica on this node (loading, ready or failed). */
    public List<ModelReplica.Status> statuses() {
        List<ModelReplica.Status> out = new ArrayList<>();
        for (Supplier<ModelReplica.Status> s : replicas.values()) {
            ModelReplica.Status status = s.get();
            if (status != null) {
                out.add(status);
            }
        }
        out.sort(java.util.Comparator.comparing(ModelReplica.Status::replicaId));
        return out;
    }
}
