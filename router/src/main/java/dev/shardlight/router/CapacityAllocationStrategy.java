package dev.shardlight.router;

import dev.shardlight.worker.ModelCatalog;
import dev.shardlight.worker.ModelSpec;
import dev.shardlight.worker.ReplicaId;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.dispatch.Futures;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The shard coordinator's placement policy for model replicas (one replica per shard): adapts
 * {@link ReplicaPlacement} to sharding's view (region actor → shards it holds), reading each
 * region's capacity from its member's roles ({@link WorkerCapacity}). When no worker has room the
 * allocation fails; the region asks again later, so the replica starts once a worker with room
 * joins, and never on one that cannot hold it.
 */
public final class CapacityAllocationStrategy extends ShardCoordinator.AbstractShardAllocationStrategy {
    private final ActorSystem system;
    private final ReplicaPlacement placement;

    public CapacityAllocationStrategy(org.apache.pekko.actor.typed.ActorSystem<?> system, ModelCatalog catalog) {
        this.system = org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(system);
        Map<String, Long> footprints = new HashMap<>();
        this.placement = new ReplicaPlacement(replica -> footprints.computeIfAbsent(replica,
                r -> catalog.find(ReplicaId.parse(r).model()).map(ModelSpec::footprintBytes).orElse(Long.MAX_VALUE / 4)));
    }

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId, Map<ActorRef, IndexedSeq<String>> current) {
        Map<String, ActorRef> regions = new HashMap<>();
        List<ReplicaPlacement.Worker> workers = workers(current, regions);
        Optional<ReplicaPlacement.Worker> chosen = placement.place(shardId, workers);
        if (chosen.isEmpty()) {
            return Futures.failed(new IllegalStateException("no worker has room for replica " + shardId
                    + " (workers: " + describe(workers) + ")"));
        }
        system.log().info("placing replica {} on {} (workers: {})", shardId, chosen.get().address(), describe(workers));
        return Futures.successful(regions.get(chosen.get().address()));
    }

    @Override
    public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> inProgress) {
        if (!inProgress.isEmpty()) {
            return Futures.successful(Set.of());
        }
        Optional<String> move = placement.rebalance(workers(current, new HashMap<>()));
        move.ifPresent(r -> system.log().info("moving replica {} to spread its model over more workers", r));
        return Futures.successful(move.map(Set::of).orElse(Set.of()));
    }

    /** Up members' regions with their capacity and shards; fills {@code regions} address → region. */
    private List<ReplicaPlacement.Worker> workers(Map<ActorRef, IndexedSeq<String>> current, Map<String, ActorRef> regions) {
        Cluster cluster = Cluster.get(system);
        Map<Address, Member> up = new HashMap<>();
        for (Member m : cluster.state().getMembers()) {
            if (m.status() == MemberStatus.up()) {
                up.put(m.address(), m);
            }
        }
        List<ReplicaPlacement.Worker> out = new ArrayList<>();
        for (Map.Entry<ActorRef, IndexedSeq<String>> e : current.entrySet()) {
            Address a = e.getKey().path().address();
            if (!a.hasGlobalScope()) {
                a = cluster.selfAddress();
            }
            Member m = up.get(a);
            if (m == null) {
                continue;
            }
            String key = a.hostPort();
            regions.put(key, e.getKey());
            out.add(new ReplicaPlacement.Worker(key, WorkerCapacity.fromRoles(m.getRoles()),
                    List.copyOf(CollectionConverters.asJava(e.getValue()))));
        }
        out.sort(java.util.Comparator.comparing(ReplicaPlacement.Worker::address));
        return out;
    }

    private String describe(List<ReplicaPlacement.Worker> workers) {
        StringBuilder sb = new StringBuilder();
        for (ReplicaPlacement.Worker w : workers) {
            sb.append(sb.isEmpty() ? "" : ", ").append(w.address()).append(' ')
                    .append(placement.freeBytes(w) >> 20).append(" of ").append(w.capacity().memoryBytes() >> 20)
                    .append(" MB free");
        }
        return sb.isEmpty() ? "none up" : sb.toString();
    }
}
