package dev.shardlight.worker;

import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.SamplingParams;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.cluster.typed.Cluster;

import dev.shardlight.engine.runtime.BatchScheduler;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One replica of a declared model: a sharded entity (id {@code model#index}, see {@link ReplicaId})
 * that owns one engine instance running many sequences at once by continuous batching
 * ({@link BatchScheduler}: {@code max-batch} slots, then {@code queue-capacity} waiting). Loading
 * and every batched step run on the replica's own engine thread, never on the actor dispatcher;
 * that thread streams {@link Tokens} straight to each requester under credit-based backpressure
 * ({@link ActiveSequence}).
 *
 * <p>State is not persisted: when a worker dies, sharding starts the replica again on a worker
 * with room (the router's periodic status poll is what wakes it), which loads the model anew.
 */
public final class ModelReplica extends AbstractBehavior<ModelReplica.Command> {

    public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "ModelReplica");

    /** Cluster role of the nodes that host replicas. */
    public static final String WORKER_ROLE = "worker";

    /** Most top alternatives a request may ask for per token ({@link Generate#logprobs()}). */
    public static final int MAX_LOGPROBS = 20;

    // ---- protocol -------------------------------------------------------------------------

    public interface Command extends ClusterMessage {
    }

    /**
     * Queue a sequence. {@code deadlineEpochMillis} (0: none) is the client's deadline; the
     * replica stops decoding within one step once it passes. Replies {@link Admitted} or
     * {@link Rejected}, then {@link Tokens} and one {@link Completed}. {@code logprobs} &gt; 0 asks
     * for each token's log-probability and that many top alternatives ({@link Tokens#logprobs()});
     * 0 (also what a sender that predates the field means) asks for none.
     */
    public record Generate(String requestId, String tenant, int[] prompt, int maxTokens, SamplingParams sampling,
                           int[] stopTokens, long deadlineEpochMillis, int initialCredit,
                           ActorRef<Event> replyTo, int logprobs, int priority, double weight) implements Command {
        /** A request of the default priority class (0) and fair-share weight (1). */
        public Generate(String requestId, String tenant, int[] prompt, int maxTokens, SamplingParams sampling,
                        int[] stopTokens, long deadlineEpochMillis, int initialCredit, ActorRef<Event> replyTo,
                        int logprobs) {
            this(requestId, tenant, prompt, maxTokens, sampling, stopTokens, deadlineEpochMillis, initialCredit, replyTo,
                    logprobs, 0, 1.0);
        }

        /** The tenant's fair-share weight; a sender that predates the field (0) means 1. */
        double effectiveWeight() {
            return weight > 0 ? weight : 1.0;
        }
    }

    /** The requester wrote {@code tokens} more tokens to its client and can take as many again. */
    public record Credit(String requestId, int tokens) implements Command {
    }

    /** Stop the sequence (queued or running) and free its KV cache; replies {@link Completed} if it was known. */
    public record Cancel(String requestId, String reason) implements Command {
    }

    public record GetStatus(ActorRef<Status> replyTo) implements Command {
    }

    /** Sent by sharding before the entity moves or the node leaves. */
    public enum Stop implements Command {
        INSTANCE
    }

    public interface Event extends ClusterMessage {
        String requestId();
    }

    public record Admitted(String requestId, String replicaId, String node, int queuePosition,
                           ActorRef<Command> replica) implements Event {
    }

    public enum Refusal {
        /** The queue is full: try another replica or report RESOURCE_EXHAUSTED. */
        QUEUE_FULL,
        /** The request cannot run on this model (names the field and numbers). */
        INVALID,
        /** Not loaded (yet), failed to load, or moving: try another replica. */
        UNAVAILABLE
    }

    public record Rejected(String requestId, Refusal refusal, String message) implements Event {
    }

    /**
     * Streamed tokens; {@code logprobs} is null unless the request asked for them, else one per id
     * (same order).
     */
    public record Tokens(String requestId, int[] ids, Logprob[] logprobs) implements Event {
    }

    /**
     * A chosen token's log-probability under the model's raw distribution (log-softmax of the
     * logits before penalties, temperature and filters) and the most likely alternatives at that
     * step, highest first.
     */
    public record Logprob(int token, float logprob, int[] topIds, float[] topLogprobs) implements ClusterMessage {
    }

    public enum Finish { STOP, LENGTH, CANCELLED, ERROR }

    /**
     * The sequence ended; {@code completionTokens} is how many {@link Tokens} ids were sent, so the
     * requester can tell whether any are still in flight; {@code cachedTokens} of the prompt came
     * from the replica's prefix cache; {@code queueMicros} is how long it waited for a batch slot
     * and KV blocks (0 if it never started).
     */
    public record Completed(String requestId, Finish finish, int promptTokens, int completionTokens,
                            String message, int cachedTokens, long queueMicros) implements Event {
        public Completed(String requestId, Finish finish, int promptTokens, int completionTokens, String message) {
            this(requestId, finish, promptTokens, completionTokens, message, 0, 0);
        }
    }

    public enum State { LOADING, READY, FAILED }

    /**
     * @param contextLength the longest prompt + completion this replica accepts: the declared
     *                      context capped by the model's own (0 while loading)
     */
    public record Status(String replicaId, String node, State state, String message, ReplicaEngine.Info info,
                         int contextLength, int queued, int inFlight, long kvBytes,
                         dev.shardlight.engine.runtime.BatchScheduler.Stats batch) implements ClusterMessage {
        public Status(String replicaId, String node, State state, String message, ReplicaEngine.Info info,
                      int contextLength, int queued, int inFlight, long kvBytes) {
            this(replicaId, node, state, message, info, contextLength, queued, inFlight, kvBytes, null);
        }

        public int load() {
            return queued + inFlight;
        }
    }

    private record EngineLoaded(ReplicaEngine engine) implements Command, NoSerializationVerificationNeeded {
    }

    private record EngineFailed(String message) implements Command, NoSerializationVerificationNeeded {
    }

    private record SequenceEnded(ActiveSequence sequence) implements Command, NoSerializationVerificationNeeded {
    }

    /** Death-watch of a requester; keyed by the requester, since one may have several requests here. */
    private record RequesterGone(ActorRef<?> requester) implements Command, NoSerializationVerificationNeeded {
    }

    // ---- wiring ---------------------------------------------------------------------------

    /**
     * Starts the replica region on worker nodes and a proxy elsewhere. One replica per shard, so
     * {@code allocation} places each replica on its own merits (capacity, spread).
     */
    public static void initSharding(ActorSystem<?> system, ModelCatalog catalog, ReplicaEngine.Factory engines,
                                    ShardCoordinator.ShardAllocationStrategy allocation) {
        initSharding(system, catalog, engines, allocation, new LocalReplicas());
    }

    /** As above; the replicas this node hosts register in {@code local} (for the node's own metrics). */
    public static void initSharding(ActorSystem<?> system, ModelCatalog catalog, ReplicaEngine.Factory engines,
                                    ShardCoordinator.ShardAllocationStrategy allocation, LocalReplicas local) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY,
                        ctx -> create(ReplicaId.parse(ctx.getEntityId()), catalog, engines, local))
                .withRole(WORKER_ROLE)
                .withStopMessage(Stop.INSTANCE)
                .withAllocationStrategy(allocation)
                .withMessageExtractor(new ShardingMessageExtractor<ShardingEnvelope<Command>, Command>() {
                    @Override
                    public String entityId(ShardingEnvelope<Command> envelope) {
                        return envelope.entityId();
                    }

                    @Override
                    public String shardId(String entityId) {
                        return entityId;
                    }

                    @Override
                    public Command unwrapMessage(ShardingEnvelope<Command> envelope) {
                        return envelope.message();
                    }
                }));
    }

    public static Behavior<Command> create(ReplicaId id, ModelCatalog catalog, ReplicaEngine.Factory engines) {
        return create(id, catalog, engines, new LocalReplicas());
    }

    public static Behavior<Command> create(ReplicaId id, ModelCatalog catalog, ReplicaEngine.Factory engines,
                                           LocalReplicas local) {
        return Behaviors.setup(ctx -> new ModelReplica(ctx, id, catalog, engines, local));
    }

    // ---- behavior -------------------------------------------------------------------------

    /** How long the engine loop waits before looking again when every sequence waits for credit. */
    static final long IDLE_POLL_MILLIS = 10;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelReplica.class);

    private final java.util.Map<ActorRef<?>, Integer> watchedRequests = new java.util.HashMap<>();
    private final ReplicaId id;
    private final ModelSpec spec;
    private final String node;
    private final ScheduledExecutorService engineThread;
    /** Requests admitted while the model loads; handed to the engine once it is ready. */
    private final ArrayDeque<Generate> pending = new ArrayDeque<>();
    /** Sequences handed to the engine (waiting there or running) that have not ended. */
    private final java.util.LinkedHashMap<String, ActiveSequence> active = new java.util.LinkedHashMap<>();
    private State state = State.LOADING;
    private String message = "loading";
    private ReplicaEngine engine;
    private boolean stopping;
    private final LocalReplicas local;
    private final AtomicBoolean loopQueued = new AtomicBoolean();
    /** What other threads (metrics scrapes) see: the last status the actor published, engine numbers read live. */
    private volatile Status published;
    private volatile ReplicaEngine publishedEngine;
    private final java.util.function.Supplier<Status> liveStatus = () -> {
        Status s = published;
        ReplicaEngine e = publishedEngine;
        return s == null || e == null ? s : withEngine(s, e);
    };

    private ModelReplica(ActorContext<Command> ctx, ReplicaId id, ModelCatalog catalog, ReplicaEngine.Factory engines,
                         LocalReplicas local) {
        super(ctx);
        this.id = id;
        this.local = local;
        this.spec = catalog.find(id.model()).orElse(null);
        var address = Cluster.get(ctx.getSystem()).selfMember().address();
        this.node = address.getHost().orElse("local") + ":" + address.getPort().map(String::valueOf).orElse("0");
        this.engineThread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "replica-" + id);
            t.setDaemon(true);
            return t;
        });
        if (spec == null) {
            state = State.FAILED;
            message = "model " + id.model() + " is not declared in shardlight.models on node " + node;
        } else {
            ActorRef<Command> self = ctx.getSelf();
            ctx.getLog().info("replica {} loading {} on {}", id, spec.path(), node);
            engineThread.execute(() -> {
                try {
                    self.tell(new EngineLoaded(engines.open(spec)));
                } catch (Throwable t) {
                    self.tell(new EngineFailed(t.getMessage() == null ? t.toString() : t.getMessage()));
                }
            });
        }
        publish();
        local.register(id.toString(), liveStatus);
    }

    @Override
    public Receive<Command> createReceive() {
        Receive<Command> handlers = receiveBuilder();
        return new Receive<>() {
            @Override
            public Behavior<Command> receiveMessage(Command msg) throws Exception {
                Behavior<Command> next = handlers.receiveMessage(msg);
                publish();
                return next;
            }

            @Override
            public Behavior<Command> receiveSignal(org.apache.pekko.actor.typed.Signal signal) throws Exception {
                return handlers.receiveSignal(signal);
            }
        };
    }

    private void publish() {
        publishedEngine = engine;
        published = status();
    }

    private Receive<Command> receiveBuilder() {
        return newReceiveBuilder()
                .onMessage(Generate.class, this::onGenerate)
                .onMessage(Credit.class, this::onCredit)
                .onMessage(Cancel.class, c -> cancel(c.requestId(), c.reason()))
                .onMessage(RequesterGone.class, this::onRequesterGone)
                .onMessage(GetStatus.class, this::onGetStatus)
                .onMessage(ScoreLabels.class, this::onScoreLabels)
                .onMessage(EngineLoaded.class, this::onLoaded)
                .onMessage(EngineFailed.class, this::onFailed)
                .onMessage(SequenceEnded.class, this::onSequenceEnded)
                .onMessageEquals(Stop.INSTANCE, this::onStop)
                .onSignal(PostStop.class, s -> onPostStop())
                .build();
    }

    /** Batch slots plus queue: how many sequences this replica holds before it refuses more. */
    private int capacity() {
        return spec.batching().maxBatch() + spec.queueCapacity();
    }

    private Behavior<Command> onGenerate(Generate g) {
        String refusal = validate(g);
        if (refusal != null) {
            g.replyTo().tell(new Rejected(g.requestId(), Refusal.INVALID, refusal));
        } else if (stopping || state == State.FAILED) {
            g.replyTo().tell(new Rejected(g.requestId(), Refusal.UNAVAILABLE,
                    "replica " + id + " on " + node + (stopping ? " is moving" : " failed: " + message)));
        } else if (active.size() + pending.size() >= capacity()) {
            int running = engine == null ? 0 : engine.stats().running();
            g.replyTo().tell(new Rejected(g.requestId(), Refusal.QUEUE_FULL,
                    "replica " + id + " queue is full (" + running + " running, "
                            + (active.size() + pending.size() - running) + " waiting, capacity "
                            + spec.batching().maxBatch() + " running + " + spec.queueCapacity() + " queued)"));
        } else {
            watch(g.replyTo());
            int position = Math.max(0, active.size() + pending.size() - spec.batching().maxBatch());
            g.replyTo().tell(new Admitted(g.requestId(), id.toString(), node, position, getContext().getSelf()));
            if (state == State.READY) {
                start(g);
            } else {
                pending.addLast(g);
            }
        }
        return this;
    }

    /** Checks the request against the loaded model; null when it fits (or the model is not loaded yet). */
    private String validate(Generate g) {
        if (g.logprobs() < 0 || g.logprobs() > MAX_LOGPROBS) {
            return "logprobs = " + g.logprobs() + " is outside 0.." + MAX_LOGPROBS;
        }
        if (engine == null) {
            return null;
        }
        int vocab = engine.info().vocab();
        for (int i = 0; i < g.prompt().length; i++) {
            if (g.prompt()[i] < 0 || g.prompt()[i] >= vocab) {
                return "token_ids[" + i + "] = " + g.prompt()[i] + " is outside the vocabulary of " + id.model()
                        + " (0.." + (vocab - 1) + ")";
            }
        }
        int ctx = contextLength();
        long total = (long) g.prompt().length + g.maxTokens();
        if (total > ctx) {
            return "prompt (" + g.prompt().length + " tokens) + max_tokens (" + g.maxTokens() + ") = " + total
                    + " exceeds the context length of " + id.model() + " (" + ctx + ")";
        }
        return engine.refusal(g.prompt().length, g.maxTokens());
    }

    private int contextLength() {
        return engine == null ? 0 : Math.min(spec.contextLength(), engine.info().contextLength());
    }

    /** Hands a sequence to the engine thread; its tokens and end go straight to the requester from there. */
    private void start(Generate g) {
        if (g.deadlineEpochMillis() > 0 && System.currentTimeMillis() > g.deadlineEpochMillis()) {
            release(g.replyTo());
            g.replyTo().tell(new Completed(g.requestId(), Finish.CANCELLED, g.prompt().length, 0,
                    "deadline exceeded while queued"));
            return;
        }
        ActorRef<Command> self = getContext().getSelf();
        ActiveSequence seq = new ActiveSequence(g, this::wake, s -> self.tell(new SequenceEnded(s)));
        active.put(g.requestId(), seq);
        ReplicaEngine e = engine;
        BatchScheduler.Request request = new BatchScheduler.Request(g.requestId(), g.tenant(), g.priority(),
                g.effectiveWeight(), g.prompt(), g.maxTokens(), g.sampling(), g.stopTokens(),
                g.logprobs() > 0 ? g.logprobs() : -1);
        execute(() -> {
            try {
                e.submit(request, seq);
            } catch (RuntimeException ex) {
                seq.finished(new BatchScheduler.Result(BatchScheduler.Outcome.ERROR, g.prompt().length, 0, 0, 0,
                        ex.getMessage() == null ? ex.toString() : ex.getMessage()));
                return;
            }
            loop(e);
        });
    }

    private void execute(Runnable task) {
        try {
            engineThread.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            // the replica stopped: its sequences were cancelled in onPostStop
        }
    }

    /** Any thread: makes sure one engine step is queued on the engine thread. */
    private void wake() {
        ReplicaEngine e = publishedEngine;
        if (e != null && loopQueued.compareAndSet(false, true)) {
            execute(() -> {
                loopQueued.set(false);
                loop(e);
            });
        }
    }

    /**
     * Engine thread: one step, then the next is queued behind whatever else the engine thread has
     * to do (new sequences, other engine work), so steps and submissions interleave in order.
     * While every sequence waits for its reader, it looks again every {@link #IDLE_POLL_MILLIS}.
     */
    private void loop(ReplicaEngine e) {
        boolean progressed;
        try {
            progressed = e.step();
        } catch (Throwable t) {
            LOG.error("replica {} engine step failed", id, t);
            progressed = false;
        }
        if (e.busy()) {
            if (progressed) {
                wake();
            } else {
                try {
                    engineThread.schedule(this::wake, IDLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.RejectedExecutionException stopped) {
                    // stopping
                }
            }
        }
    }

    private Behavior<Command> onCredit(Credit c) {
        ActiveSequence seq = active.get(c.requestId());
        if (seq != null) {
            seq.grant(c.tokens());
        }
        return this;
    }

    /**
     * Watches a requester once however many of its requests are here (Pekko refuses a second
     * watchWith of one actor with another message), counting them so the watch ends with the last.
     */
    private void watch(ActorRef<?> requester) {
        if (watchedRequests.merge(requester, 1, Integer::sum) == 1) {
            getContext().watchWith(requester, new RequesterGone(requester));
        }
    }

    private void release(ActorRef<?> requester) {
        Integer left = watchedRequests.computeIfPresent(requester, (r, n) -> n > 1 ? n - 1 : null);
        if (left == null) {
            getContext().unwatch(requester);
        }
    }

    /** A requester died (its call was cancelled or its node went away): drop everything it asked for. */
    private Behavior<Command> onRequesterGone(RequesterGone gone) {
        watchedRequests.remove(gone.requester());
        for (ActiveSequence seq : active.values()) {
            if (seq.request.replyTo().equals(gone.requester())) {
                seq.cancel("requester gone");
            }
        }
        pending.removeIf(g -> g.replyTo().equals(gone.requester()));
        return this;
    }

    private Behavior<Command> cancel(String requestId, String reason) {
        ActiveSequence seq = active.get(requestId);
        if (seq != null) {
            seq.cancel(reason);
            return this;
        }
        for (Iterator<Generate> it = pending.iterator(); it.hasNext(); ) {
            Generate g = it.next();
            if (g.requestId().equals(requestId)) {
                it.remove();
                release(g.replyTo());
                g.replyTo().tell(new Completed(requestId, Finish.CANCELLED, g.prompt().length, 0, reason + " while queued"));
                break;
            }
        }
        return this;
    }

    /** Label scoring runs on the engine thread, after whatever that thread is doing now. */
    private Behavior<Command> onScoreLabels(ScoreLabels s) {
        ReplicaEngine e = engine;
        if (e == null || stopping) {
            s.replyTo().tell(new ScoreLabels.Refused(s.requestId(), Refusal.UNAVAILABLE, "replica " + id + " on " + node
                    + (stopping ? " is moving" : state == State.FAILED ? " failed: " + message : " is still loading")));
        } else {
            String replica = id.toString();
            engineThread.execute(() -> s.replyTo().tell(s.runOn(e, replica)));
        }
        return this;
    }

    private Behavior<Command> onGetStatus(GetStatus q) {
        q.replyTo().tell(status());
        return this;
    }

    public Status status() {
        Status s = new Status(id.toString(), node, state, message, engine == null ? null : engine.info(),
                contextLength(), active.size() + pending.size(), 0, 0, null);
        return engine == null ? s : withEngine(s, engine);
    }

    /** The status with the engine's live numbers: running vs queued, KV bytes, batch statistics. */
    private static Status withEngine(Status s, ReplicaEngine e) {
        BatchScheduler.Stats b = e.stats();
        int total = s.queued() + s.inFlight();
        // The actor's count leads or lags the engine's snapshot by a message: what the engine does
        // not (yet) report as waiting counts as running, so a sequence that just ended in the
        // engine stays in flight until the actor has heard of it.
        int running = Math.min(total, Math.max(b.running(), total - b.waiting()));
        return new Status(s.replicaId(), s.node(), s.state(), s.message(), s.info(), s.contextLength(), total - running,
                running, e.kvBytesInUse(), b);
    }

    private Behavior<Command> onLoaded(EngineLoaded loaded) {
        engine = loaded.engine();
        publishedEngine = engine;
        state = State.READY;
        message = "";
        getContext().getLog().info("replica {} ready on {}: {} context {}", id, node, engine.info(), contextLength());
        // Requests queued while loading were not checked against the model yet.
        Generate g;
        while ((g = pending.pollFirst()) != null) {
            String refusal = validate(g);
            if (refusal != null) {
                release(g.replyTo());
                g.replyTo().tell(new Completed(g.requestId(), Finish.ERROR, g.prompt().length, 0, refusal));
            } else if (!stopping) {
                start(g);
            }
        }
        return stopping && active.isEmpty() ? Behaviors.stopped() : this;
    }

    private Behavior<Command> onFailed(EngineFailed failed) {
        state = State.FAILED;
        message = failed.message();
        getContext().getLog().error("replica {} failed to load {} on {}: {}", id, spec.path(), node, failed.message());
        for (Generate g : pending) {
            release(g.replyTo());
            g.replyTo().tell(new Completed(g.requestId(), Finish.ERROR, g.prompt().length, 0,
                    "replica " + id + " failed to load: " + message));
        }
        pending.clear();
        return stopping ? Behaviors.stopped() : this;
    }

    private Behavior<Command> onSequenceEnded(SequenceEnded ended) {
        ActiveSequence seq = ended.sequence();
        if (active.remove(seq.request.requestId(), seq)) {
            release(seq.request.replyTo());
        }
        return stopping && active.isEmpty() ? Behaviors.stopped() : this;
    }

    /**
     * Hand-off: refuse what waits for the model to load (the requesters retry elsewhere), let what
     * the engine holds finish, then stop.
     */
    private Behavior<Command> onStop() {
        stopping = true;
        for (Generate g : pending) {
            release(g.replyTo());
            g.replyTo().tell(new Rejected(g.requestId(), Refusal.UNAVAILABLE, "replica " + id + " on " + node + " is moving"));
        }
        pending.clear();
        return active.isEmpty() && state != State.LOADING ? Behaviors.stopped() : this;
    }

    private Behavior<Command> onPostStop() {
        for (ActiveSequence seq : active.values()) {
            seq.cancel("replica stopped");
        }
        ReplicaEngine e = engine;
        if (e != null) {
            // let the engine thread finish the cancelled sequences (their requesters hear Completed), then close
            execute(() -> {
                for (int i = 0; i < 3 && e.busy(); i++) {
                    e.step();
                }
                e.close();
            });
        }
        engineThread.shutdown();
        local.unregister(id.toString(), liveStatus);
        getContext().getLog().info("replica {} stopped on {}", id, node);
        return this;
    }
}
