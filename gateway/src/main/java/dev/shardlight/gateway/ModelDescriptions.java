package dev.shardlight.gateway;

import dev.shardlight.proto.v1.Model;
import dev.shardlight.proto.v1.Replica;
import dev.shardlight.proto.v1.ReplicaState;
import dev.shardlight.router.RouterView;
import dev.shardlight.worker.ModelReplica;

/** The router's view of a model as the public API describes it (ListModels / GetModel). */
final class ModelDescriptions {
    private ModelDescriptions() {
    }

    static Model describe(RouterView.ModelState m, boolean hasTokenizer) {
        Model.Builder b = Model.newBuilder().setId(m.spec().id()).setContextLength(m.contextLength())
                .setHasTokenizer(hasTokenizer);
        m.info().ifPresent(i -> b.setArchitecture(i.architecture()).setVocabSize(i.vocab()));
        for (RouterView.ReplicaState r : m.replicas()) {
            Replica.Builder rb = Replica.newBuilder().setId(r.replicaId()).setState(state(r));
            ModelReplica.Status s = r.status();
            if (s != null && r.fresh()) {
                rb.setNode(s.node()).setQueued(s.queued()).setInFlight(s.inFlight()).setMessage(s.message());
            } else {
                rb.setMessage(s == null ? "not placed yet (waiting for a worker with room)"
                        : "not heard from since it was on " + s.node() + "; waiting to be placed again");
            }
            b.addReplicas(rb);
        }
        return b.build();
    }

    static ReplicaState state(RouterView.ReplicaState r) {
        if (r.status() == null || !r.fresh()) {
            return ReplicaState.REPLICA_STATE_PENDING;
        }
        return switch (r.status().state()) {
            case LOADING -> ReplicaState.REPLICA_STATE_LOADING;
            case READY -> ReplicaState.REPLICA_STATE_READY;
            case FAILED -> ReplicaState.REPLICA_STATE_FAILED;
        };
    }
}
