package dev.shardlight.router;

import dev.shardlight.worker.ModelReplica;
import dev.shardlight.worker.ModelSpec;

import java.util.List;
import java.util.Optional;

/**
 * A snapshot of the models and their replicas as the {@link ReplicaDirectory} last saw them,
 * readable from any thread (the gateway validates requests against it before queueing anything).
 */
public final class RouterView {

    /** @param status last reported status, null if never heard from; {@code fresh} false when stale */
    public record ReplicaState(String replicaId, ModelReplica.Status status, boolean fresh) {
        public boolean ready() {
            return fresh && status != null && status.state() == ModelReplica.State.READY;
        }
    }

    public record ModelState(ModelSpec spec, List<ReplicaState> replicas) {
        /**
         * The context a request must fit: the declared one, capped by the loaded model's own
         * once a replica has reported it.
         */
        public int contextLength() {
            int ctx = spec.contextLength();
            for (ReplicaState r : replicas) {
                if (r.status() != null && r.status().contextLength() > 0) {
                    ctx = Math.min(ctx, r.status().contextLength());
                }
            }
            return ctx;
        }

        /** The loaded model's description, once any replica has loaded it. */
        public Optional<dev.shardlight.worker.ReplicaEngine.Info> info() {
            return replicas.stream().map(ReplicaState::status)
                    .filter(s -> s != null && s.info() != null).map(ModelReplica.Status::info).findFirst();
        }

        public long readyReplicas() {
            return replicas.stream().filter(ReplicaState::ready).count();
        }
    }

    private volatile List<ModelState> models = List.of();

    void publish(List<ModelState> snapshot) {
        models = List.copyOf(snapshot);
    }

    public List<ModelState> models() {
        return models;
    }

    public Optional<ModelState> model(String id) {
        return models.stream().filter(m -> m.spec().id().equals(id)).findFirst();
    }
}
