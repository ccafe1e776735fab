package dev.shardlight.router;

import dev.shardlight.worker.ReplicaId;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * Where replicas go, as pure functions of the workers' budgets and what they already hold:
 * <ul>
 *   <li>a replica only lands on a worker whose free memory (budget minus the footprints of the
 *       replicas it holds) covers the replica's footprint (weights + KV budget);</li>
 *   <li>among those, a worker holding no replica of the same model wins (spread), then the one
 *       with the most free memory, then the lowest address (determinism);</li>
 *   <li>rebalancing moves one replica at a time, and only to undo doubling-up: when a replica
 *       shares a worker with another replica of its model while a worker without one has room
 *       (this is how replicas spread back when a worker returns).</li>
 * </ul>
 */
public final class ReplicaPlacement {
    /** A worker as placement sees it: its address and what it holds (replica ids). */
    public record Worker(String address, WorkerCapacity capacity, List<String> replicas) {
    }

    private final ToLongFunction<String> footprint;

    /** @param footprint bytes a replica id occupies */
    public ReplicaPlacement(ToLongFunction<String> footprint) {
        this.footprint = footprint;
    }

    public long freeBytes(Worker w) {
        long used = 0;
        for (String r : w.replicas()) {
            used += footprint.applyAsLong(r);
        }
        return w.capacity().memoryBytes() - used;
    }

    /** The worker for {@code replica}, or empty when none has room. */
    public Optional<Worker> place(String replica, List<Worker> workers) {
        long need = footprint.applyAsLong(replica);
        String model = ReplicaId.parse(replica).model();
        return workers.stream()
                .filter(w -> freeBytes(w) >= need)
                .min(Comparator.<Worker>comparingInt(w -> holdsModel(w, model, replica) ? 1 : 0)
                        .thenComparing(Comparator.comparingLong(this::freeBytes).reversed())
                        .thenComparing(Worker::address));
    }

    /** One replica worth moving to spread a model over more workers, or empty. */
    public Optional<String> rebalance(List<Worker> workers) {
        for (Worker w : workers) {
            for (String r : w.replicas()) {
                String model = ReplicaId.parse(r).model();
                if (!holdsModel(w, model, r)) {
                    continue;
                }
                long need = footprint.applyAsLong(r);
                boolean better = workers.stream().anyMatch(o -> o != w && !holdsModel(o, model, null) && freeBytes(o) >= need);
                if (better) {
                    return Optional.of(r);
                }
            }
        }
        return Optional.empty();
    }

    /** Whether {@code w} holds a replica of {@code model} other than {@code except}. */
    private static boolean holdsModel(Worker w, String model, String except) {
        for (String r : w.replicas()) {
            if (!r.equals(except) && ReplicaId.parse(r).model().equals(model)) {
                return true;
            }
        }
        return false;
    }

    /** Convenience for tests and logs: address → replicas. */
    public static Map<String, List<String>> byAddress(List<Worker> workers) {
        return workers.stream().collect(java.util.stream.Collectors.toMap(Worker::address, Worker::replicas));
    }
}
