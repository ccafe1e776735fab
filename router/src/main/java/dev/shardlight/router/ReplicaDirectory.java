package dev.shardlight.router;

import dev.shardlight.worker.ModelCatalog;
import dev.shardlight.worker.ModelReplica;
import dev.shardlight.worker.ModelSpec;
import dev.shardlight.worker.ReplicaId;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The router's view of every declared replica, local to each gateway node: it polls each replica
 * entity for its {@link ModelReplica.Status} (which also starts replicas that are not running,
 * e.g. after their worker died) and picks a replica per request by load: queued + in-flight work
 * as last reported, or this node's own outstanding dispatches when those are higher (reports lag),
 * never round-robin. Publishes a read-only {@link RouterView} snapshot after every change so the
 * gateway validates requests without a round trip.
 */
public final class ReplicaDirectory extends AbstractBehavior<ReplicaDirectory.Command> {

    public interface Command {
    }

    /** Choose a replica of {@code model}, avoiding {@code exclude} (replicas that already refused or failed). */
    public record Pick(String model, Set<String> exclude, ActorRef<Picked> replyTo)
            implements Command, NoSerializationVerificationNeeded {
    }

    /** {@code replicaId} null when none can take the request; {@code message} says why. */
    public record Picked(String replicaId, String message) implements NoSerializationVerificationNeeded {
    }

    /** A request dispatched by {@link Pick} has ended. */
    public record Release(String replicaId) implements Command, NoSerializationVerificationNeeded {
    }

    /** Stops polling (node shutdown). */
    public enum Stop implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private enum Tick implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private record Polled(String replicaId, ModelReplica.Status status, Throwable failure)
            implements Command, NoSerializationVerificationNeeded {
    }

    public static Behavior<Command> create(ModelCatalog catalog, RouterView view, Duration pollInterval) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ReplicaDirectory(ctx, timers, catalog, view, pollInterval)));
    }

    private final ModelCatalog catalog;
    private final RouterView view;
    private final Duration pollInterval;
    private final ClusterSharding sharding;
    private final Map<String, ModelReplica.Status> statuses = new HashMap<>();
    private final Map<String, Long> lastSeen = new HashMap<>();
    private final Map<String, Integer> outstanding = new HashMap<>();
    private final Set<String> polling = new HashSet<>();
    private int rotation;

    private ReplicaDirectory(ActorContext<Command> ctx, TimerScheduler<Command> timers, ModelCatalog catalog,
                             RouterView view, Duration pollInterval) {
        super(ctx);
        this.catalog = catalog;
        this.view = view;
        this.pollInterval = pollInterval;
        this.sharding = ClusterSharding.get(ctx.getSystem());
        timers.startTimerWithFixedDelay(Tick.INSTANCE, pollInterval);
        ctx.getSelf().tell(Tick.INSTANCE);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Tick.INSTANCE, this::poll)
                .onMessage(Polled.class, this::onPolled)
                .onMessage(Pick.class, this::onPick)
                .onMessage(Release.class, this::onRelease)
                .onMessageEquals(Stop.INSTANCE, Behaviors::stopped)
                .build();
    }

    private Behavior<Command> poll() {
        for (ReplicaId r : catalog.replicas()) {
            String id = r.toString();
            if (!polling.add(id)) {
                continue;
            }
            getContext().ask(ModelReplica.Status.class, sharding.entityRefFor(ModelReplica.TYPE_KEY, id),
                    pollInterval.multipliedBy(4), ModelReplica.GetStatus::new, (s, t) -> new Polled(id, s, t));
        }
        publish();
        return this;
    }

    private Behavior<Command> onPolled(Polled p) {
        polling.remove(p.replicaId());
        if (p.status() != null) {
            statuses.put(p.replicaId(), p.status());
            lastSeen.put(p.replicaId(), System.nanoTime());
        }
        publish();
        return this;
    }

    /** A status older than this is not trusted: the replica may be gone with its node. */
    private boolean fresh(String replicaId) {
        Long t = lastSeen.get(replicaId);
        return t != null && System.nanoTime() - t < pollInterval.multipliedBy(6).toNanos();
    }

    private Behavior<Command> onPick(Pick p) {
        ModelSpec spec = catalog.find(p.model()).orElse(null);
        if (spec == null || spec.replicas() == 0) {
            p.replyTo().tell(new Picked(null, spec == null ? "model " + p.model() + " is not served"
                    : "model " + p.model() + " is declared with 0 replicas"));
            return this;
        }
        String best = null;
        long bestScore = Long.MAX_VALUE;
        int failed = 0;
        String failure = "";
        int n = spec.replicas();
        int start = Math.floorMod(rotation++, n); // ties go round the replicas instead of piling on #0
        for (int k = 0; k < n; k++) {
            String id = spec.replica((start + k) % n).toString();
            if (p.exclude().contains(id)) {
                continue;
            }
            ModelReplica.Status s = statuses.get(id);
            boolean known = s != null && fresh(id);
            if (known && s.state() == ModelReplica.State.FAILED) {
                failed++;
                failure = s.message();
                continue;
            }
            // Ready replicas first, then loading ones, then ones not heard from (sending to them starts them).
            long tier = !known ? 2 : s.state() == ModelReplica.State.READY ? 0 : 1;
            int mine = outstanding.getOrDefault(id, 0);
            // Reported load lags by up to a poll; this gateway's own dispatches are exact, so they
            // count when higher and break ties (a stale report of a finished request loses to them).
            long load = Math.max(known ? s.load() : 0, mine);
            long score = tier * 1_000_000_000L + load * 1000L + Math.min(mine, 999);
            if (score < bestScore) {
                bestScore = score;
                best = id;
            }
        }
        if (best == null) {
            String why = failed == n ? "all " + n + " replicas of " + p.model() + " failed to load (" + failure + ")"
                    : "no other replica of " + p.model() + " can take the request (tried " + p.exclude().size() + " of " + n + ")";
            p.replyTo().tell(new Picked(null, why));
            return this;
        }
        outstanding.merge(best, 1, Integer::sum);
        p.replyTo().tell(new Picked(best, ""));
        return this;
    }

    private Behavior<Command> onRelease(Release r) {
        outstanding.computeIfPresent(r.replicaId(), (k, v) -> v <= 1 ? null : v - 1);
        return this;
    }

    private void publish() {
        List<RouterView.ModelState> models = new ArrayList<>();
        for (ModelSpec spec : catalog.models()) {
            List<RouterView.ReplicaState> replicas = new ArrayList<>();
            for (int i = 0; i < spec.replicas(); i++) {
                String id = spec.replica(i).toString();
                ModelReplica.Status s = statuses.get(id);
                replicas.add(new RouterView.ReplicaState(id, s, fresh(id)));
            }
            models.add(new RouterView.ModelState(spec, replicas));
        }
        view.publish(models);
    }
}
