package dev.shardlight.worker;

/**
 * Names one replica of a declared model: {@code "<model>#<index>"}, the sharded entity id (and,
 * with one entity per shard, the shard id, so placement decides per replica).
 */
public record ReplicaId(String model, int index) {

    public ReplicaId {
        if (model.isEmpty() || model.indexOf('#') >= 0) {
            throw new IllegalArgumentException("model id must be non-empty and free of '#': \"" + model + "\"");
        }
        if (index < 0) {
            throw new IllegalArgumentException("replica index " + index + " < 0");
        }
    }

    public static ReplicaId parse(String entityId) {
        int hash = entityId.lastIndexOf('#');
        if (hash <= 0) {
            throw new IllegalArgumentException("not a replica id (model#index): \"" + entityId + "\"");
        }
        return new ReplicaId(entityId.substring(0, hash), Integer.parseInt(entityId.substring(hash + 1)));
    }

    @Override
    public String toString() {
        return model + "#" + index;
    }
}
