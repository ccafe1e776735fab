package dev.shardlight.gateway;

import dev.shardlight.gateway.tenants.Admission;
import dev.shardlight.proto.v1.Delta;
import dev.shardlight.proto.v1.FinishReason;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.RoutingDecision;
import dev.shardlight.proto.v1.TokenLogprob;
import dev.shardlight.proto.v1.TopLogprob;
import dev.shardlight.proto.v1.Usage;
import dev.shardlight.router.ReplicaDirectory;
import dev.shardlight.tokenizer.StopStringMatcher;
import dev.shardlight.worker.ModelReplica;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.slf4j.MDC;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;

/**
 * One Generate call on the gateway: picks a replica through the router, streams its tokens to
 * the client under gRPC flow control, and turns every outcome into exactly one end of the call.
 *
 * <ul>
 *   <li>Flow control: tokens are written only while {@code isReady()}; the replica gets credit
 *       back only for tokens written, so a slow reader pauses its own sequence (the gRPC onReady
 *       handler resumes the drain).</li>
 *   <li>Retry: a replica that refuses (queue full, moving) or is lost / silent before the first
 *       token is replaced by another; once tokens have been streamed a lost replica ends the call
 *       with UNAVAILABLE, since the stream cannot resume elsewhere.</li>
 *   <li>Cancellation and deadline: gRPC cancels the call (client cancel or deadline) and the
 *       session tells the replica, which stops within one decode step and frees the KV cache;
 *       the replica also watches this actor and knows the deadline itself.</li>
 * </ul>
 * All writes to the {@link ServerCallStreamObserver} happen on this actor, so they are serialized
 * as grpc-java requires; gRPC callbacks only send messages here.
 */
final class GenerateSession extends AbstractBehavior<Object> {
    /** Tokens the replica may send ahead of what the client has taken. */
    static final int CREDIT_WINDOW = 16;
    private static final int MAX_ATTEMPTS = 8;

    record Settings(Duration admitTimeout, Duration retryBackoff) {
    }

    private enum Start implements NoSerializationVerificationNeeded { INSTANCE }

    enum ClientReady implements NoSerializationVerificationNeeded { INSTANCE }

    record ClientCancelled(String reason) implements NoSerializationVerificationNeeded {
    }

    private record PickResult(ReplicaDirectory.Picked picked, Throwable failure) implements NoSerializationVerificationNeeded {
    }

    private record AdmitTimeout(int attempt) implements NoSerializationVerificationNeeded {
    }

    private record ReplicaLost(int attempt) implements NoSerializationVerificationNeeded {
    }

    static Behavior<Object> create(ValidRequest request, ServerCallStreamObserver<GenerateResponse> client,
                                   ActorRef<ReplicaDirectory.Command> directory, ServingMetrics metrics, Settings settings,
                                   Admission.Lease lease) {
        return create(request, client, directory, metrics, settings, lease, null);
    }

    /** As above; {@code routing} (model "auto" only, else null) is returned in {@code Finished.routing}. */
    static Behavior<Object> create(ValidRequest request, ServerCallStreamObserver<GenerateResponse> client,
                                   ActorRef<ReplicaDirectory.Command> directory, ServingMetrics metrics, Settings settings,
                                   Admission.Lease lease, RoutingDecision routing) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            GenerateSession session = new GenerateSession(ctx, timers, request, client, directory, metrics, settings, lease);
            session.routing = routing;
            return session;
        }));
    }

    private RoutingDecision routing;

    private final ValidRequest request;
    private final ServerCallStreamObserver<GenerateResponse> client;
    private final ActorRef<ReplicaDirectory.Command> directory;
    private final ServingMetrics metrics;
    private final Settings settings;
    private final Admission.Lease lease;
    private final TimerScheduler<Object> timers;
    private final ClusterSharding sharding;
    private final PromptCodec.Decoder decoder;
    private final StopStringMatcher stopStrings;
    private final long startNanos = System.nanoTime();
    private final Set<String> tried = new HashSet<>();
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();

    /** A received token not yet written; {@code logprob} is null unless the request asked for logprobs. */
    private record Pending(int id, ModelReplica.Logprob logprob) {
    }

    private int attempt;
    private boolean sawQueueFull;
    private String replicaId;
    private String replicaNode = "";
    private ActorRef<ModelReplica.Command> replica;
    private int received;
    private int written;
    private int owed;
    private long lastTokenNanos;
    private ModelReplica.Completed completed;
    private boolean stopHit;
    private boolean released;
    /** A replica took the request at some point: its prompt was processed, so it is metered. */
    private boolean admittedOnce;

    private GenerateSession(ActorContext<Object> ctx, TimerScheduler<Object> timers, ValidRequest request,
                            ServerCallStreamObserver<GenerateResponse> client, ActorRef<ReplicaDirectory.Command> directory,
                            ServingMetrics metrics, Settings settings, Admission.Lease lease) {
        super(ctx);
        this.lease = lease;
        this.timers = timers;
        this.request = request;
        this.client = client;
        this.directory = directory;
        this.metrics = metrics;
        this.settings = settings;
        this.sharding = ClusterSharding.get(ctx.getSystem());
        this.decoder = request.codec() == null ? null : request.codec().newDecoder();
        this.stopStrings = request.stop().isEmpty() ? null : new StopStringMatcher(request.stop());
        metrics.inFlight.labelValues(request.model()).inc();
        metrics.promptTokens.labelValues(request.model(), request.tenant()).inc(request.prompt().length);
        ctx.getSelf().tell(Start.INSTANCE);
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessageEquals(Start.INSTANCE, this::pick)
                .onMessage(PickResult.class, this::onPicked)
                .onMessage(ModelReplica.Admitted.class, this::onAdmitted)
                .onMessage(ModelReplica.Rejected.class, this::onRejected)
                .onMessage(ModelReplica.Tokens.class, this::onTokens)
                .onMessage(ModelReplica.Completed.class, this::onCompleted)
                .onMessage(AdmitTimeout.class, t -> t.attempt() == attempt && received == 0
                        ? retry("replica " + replicaId + " did not answer within " + settings.admitTimeout().toMillis() + " ms")
                        : this)
                .onMessage(ReplicaLost.class, this::onReplicaLost)
                .onMessageEquals(ClientReady.INSTANCE, this::drain)
                .onMessage(ClientCancelled.class, this::onClientCancelled)
                .onSignal(PostStop.class, s -> endLease())
                .build();
    }

    private Behavior<Object> pick() {
        if (attempt >= MAX_ATTEMPTS) {
            return fail(Status.UNAVAILABLE.withDescription("no replica of " + request.model() + " took the request after "
                    + attempt + " attempts"));
        }
        getContext().ask(ReplicaDirectory.Picked.class, directory, Duration.ofSeconds(5),
                replyTo -> new ReplicaDirectory.Pick(request.model(), Set.copyOf(tried), replyTo), PickResult::new);
        return this;
    }

    private Behavior<Object> onPicked(PickResult r) {
        if (r.failure() != null) {
            return fail(Status.INTERNAL.withDescription("router did not answer: " + r.failure().getMessage()));
        }
        ReplicaDirectory.Picked p = r.picked();
        if (p.replicaId() == null) {
            if (sawQueueFull) {
                return fail(Status.RESOURCE_EXHAUSTED.withDescription("every replica of " + request.model()
                        + " has a full queue; retry later (" + p.message() + ")"));
            }
            if (!tried.isEmpty() && attempt < MAX_ATTEMPTS) {
                // Replicas were lost or silent: wait for placement to catch up, then try them all again.
                tried.clear();
                timers.startSingleTimer(Start.INSTANCE, settings.retryBackoff());
                return this;
            }
            return fail(Status.UNAVAILABLE.withDescription(p.message()));
        }
        attempt++;
        replicaId = p.replicaId();
        released = false;
        tried.add(replicaId);
        sharding.entityRefFor(ModelReplica.TYPE_KEY, replicaId).tell(new ModelReplica.Generate(request.requestId(),
                request.tenant(), request.prompt(), request.maxTokens(), request.sampling(), request.stopTokens(),
                request.deadlineEpochMillis(), CREDIT_WINDOW, getContext().getSelf().narrow(), request.logprobs(),
                lease.scheduling().priorityClass(), lease.scheduling().weight()));
        timers.startSingleTimer(new AdmitTimeout(attempt), settings.admitTimeout());
        return this;
    }

    private Behavior<Object> onAdmitted(ModelReplica.Admitted a) {
        if (!a.replicaId().equals(replicaId) || replica != null) {
            // A replica we gave up on admitted the request after all: withdraw it there.
            a.replica().tell(new ModelReplica.Cancel(request.requestId(), "superseded by a retry"));
            return this;
        }
        timers.cancel(new AdmitTimeout(attempt));
        replica = a.replica();
        replicaNode = a.node();
        admittedOnce = true;
        getContext().watchWith(replica, new ReplicaLost(attempt));
        log("admitted by replica {} on {} at queue position {}", replicaId, replicaNode, a.queuePosition());
        return this;
    }

    private Behavior<Object> onRejected(ModelReplica.Rejected r) {
        if (!r.requestId().equals(request.requestId()) || replica != null) {
            return this;
        }
        timers.cancel(new AdmitTimeout(attempt));
        return switch (r.refusal()) {
            case INVALID -> fail(Status.INVALID_ARGUMENT.withDescription(r.message()));
            case QUEUE_FULL -> {
                sawQueueFull = true;
                yield pick();
            }
            case UNAVAILABLE -> pick();
        };
    }

    private Behavior<Object> retry(String why) {
        log("retrying elsewhere: {}", why, "", "");
        if (replica != null) {
            getContext().unwatch(replica);
            replica.tell(new ModelReplica.Cancel(request.requestId(), "gateway retries elsewhere"));
            replica = null;
        }
        release();
        return pick();
    }

    /** Tells the router this request no longer loads {@link #replicaId} (once per dispatch). */
    private void release() {
        if (replicaId != null && !released) {
            directory.tell(new ReplicaDirectory.Release(replicaId));
            released = true;
        }
    }

    private Behavior<Object> onTokens(ModelReplica.Tokens t) {
        long now = System.nanoTime();
        if (received == 0) {
            metrics.timeToFirstToken.labelValues(request.model()).observe((now - startNanos) / 1e9);
        } else {
            metrics.interTokenLatency.labelValues(request.model()).observe((now - lastTokenNanos) / 1e9);
        }
        lastTokenNanos = now;
        for (int i = 0; i < t.ids().length; i++) {
            pending.addLast(new Pending(t.ids()[i], t.logprobs() != null && i < t.logprobs().length ? t.logprobs()[i] : null));
        }
        received += t.ids().length;
        return drain();
    }

    private Behavior<Object> onCompleted(ModelReplica.Completed c) {
        if (replica == null && c.finish() != ModelReplica.Finish.ERROR) {
            return this; // from a replica we left
        }
        completed = c;
        if (c.queueMicros() > 0) {
            metrics.queueTime.labelValues(request.model()).observe(c.queueMicros() / 1e6);
        }
        release(); // the replica is done with us, even if the client is still reading
        return drain();
    }

    private Behavior<Object> onReplicaLost(ReplicaLost lost) {
        if (lost.attempt() != attempt || completed != null) {
            return this;
        }
        if (received == 0) {
            replica = null;
            return retry("replica " + replicaId + " on " + replicaNode + " was lost before its first token");
        }
        return fail(Status.UNAVAILABLE.withDescription("replica " + replicaId + " on " + replicaNode
                + " was lost after streaming " + received + " tokens; the stream cannot resume, retry the request"));
    }

    private Behavior<Object> onClientCancelled(ClientCancelled c) {
        if (replica != null) {
            replica.tell(new ModelReplica.Cancel(request.requestId(), c.reason()));
        } else if (replicaId != null) {
            sharding.entityRefFor(ModelReplica.TYPE_KEY, replicaId).tell(new ModelReplica.Cancel(request.requestId(), c.reason()));
        }
        log("{}", c.reason(), "", "");
        return end(c.reason().startsWith("deadline") ? "DEADLINE_EXCEEDED" : "CANCELLED");
    }

    /** Writes what the client can take, returns credit, and ends the call once everything is out. */
    private Behavior<Object> drain() {
        while (!pending.isEmpty() && !stopHit && client.isReady()) {
            Delta.Builder delta = Delta.newBuilder();
            StringBuilder text = new StringBuilder();
            while (!pending.isEmpty() && delta.getTokenIdsCount() < CREDIT_WINDOW) {
                Pending p = pending.pollFirst();
                int id = p.id();
                delta.addTokenIds(id);
                if (request.logprobs() > 0 && p.logprob() != null) {
                    delta.addLogprobs(logprob(p.logprob()));
                }
                if (decoder != null) {
                    text.append(decoder.next(id));
                }
            }
            int n = delta.getTokenIdsCount();
            String visible = text.toString();
            if (stopStrings != null) {
                StopStringMatcher.Step step = stopStrings.accept(visible);
                visible = step.text();
                stopHit = step.stopped();
            }
            client.onNext(GenerateResponse.newBuilder().setDelta(delta.setText(visible)).build());
            written += n;
            owed += n;
            metrics.completionTokens.labelValues(request.model(), request.tenant()).inc(n);
        }
        if (stopHit) {
            if (completed == null && replica != null) {
                replica.tell(new ModelReplica.Cancel(request.requestId(), "stop string"));
            }
            return finish(FinishReason.FINISH_REASON_STOP);
        }
        if (owed >= CREDIT_WINDOW / 2 && replica != null && completed == null) {
            replica.tell(new ModelReplica.Credit(request.requestId(), owed));
            owed = 0;
        }
        if (completed != null && pending.isEmpty()) {
            return switch (completed.finish()) {
                case STOP -> finish(FinishReason.FINISH_REASON_STOP);
                case LENGTH -> finish(FinishReason.FINISH_REASON_LENGTH);
                case CANCELLED -> completed.message().startsWith("deadline")
                        ? fail(Status.DEADLINE_EXCEEDED.withDescription(completed.message()))
                        : finish(FinishReason.FINISH_REASON_CANCELLED);
                case ERROR -> received == 0 && completed.message().contains("exceeds the context")
                        ? fail(Status.INVALID_ARGUMENT.withDescription(completed.message()))
                        : fail(Status.INTERNAL.withDescription(completed.message()));
            };
        }
        return this;
    }

    private TokenLogprob logprob(ModelReplica.Logprob lp) {
        PromptCodec codec = request.codec();
        TokenLogprob.Builder b = TokenLogprob.newBuilder().setTokenId(lp.token()).setLogprob(lp.logprob());
        if (codec != null) {
            b.setToken(codec.tokenText(lp.token()));
        }
        int[] ids = lp.topIds() == null ? new int[0] : lp.topIds();
        for (int k = 0; k < ids.length; k++) {
            TopLogprob.Builder top = TopLogprob.newBuilder().setTokenId(ids[k]).setLogprob(lp.topLogprobs()[k]);
            if (codec != null) {
                top.setToken(codec.tokenText(ids[k]));
            }
            b.addTop(top);
        }
        return b.build();
    }

    private Behavior<Object> finish(FinishReason reason) {
        if (decoder != null && !stopHit) {
            String tail = decoder.finish();
            if (stopStrings != null) {
                StopStringMatcher.Step step = stopStrings.accept(tail);
                tail = step.text() + (step.stopped() ? "" : stopStrings.finish());
            }
            if (!tail.isEmpty()) {
                client.onNext(GenerateResponse.newBuilder().setDelta(Delta.newBuilder().setText(tail)).build());
            }
        }
        Finished.Builder finished = Finished.newBuilder()
                .setReason(reason)
                .setUsage(Usage.newBuilder().setPromptTokens(request.prompt().length).setCompletionTokens(written)
                        .setCachedTokens(completed == null ? 0 : completed.cachedTokens()))
                .setModel(request.model()).setReplica(replicaId == null ? "" : replicaId)
                .setRequestId(request.requestId());
        if (routing != null) {
            finished.setRouting(routing);
        }
        endLease(); // before the client hears the end, so its next call finds its stream slot free
        client.onNext(GenerateResponse.newBuilder().setFinished(finished).build());
        client.onCompleted();
        log("finished ({}, {} tokens) on replica {}", reason, written, replicaId);
        return end("OK");
    }

    private Behavior<Object> fail(Status status) {
        if (replica != null && completed == null) {
            replica.tell(new ModelReplica.Cancel(request.requestId(), "gateway ended the call"));
        }
        endLease();
        try {
            client.onError(status.asRuntimeException());
        } catch (IllegalStateException alreadyClosed) {
            // the call was cancelled concurrently; nothing to tell the client
        }
        log("failed: {} {}", status.getCode(), status.getDescription(), "");
        return end(status.getCode().name());
    }

    private Behavior<Object> end(String status) {
        release();
        endLease();
        metrics.inFlight.labelValues(request.model()).dec();
        metrics.requests.labelValues(request.model(), request.tenant(), status).inc();
        metrics.requestDuration.labelValues(request.model()).observe((System.nanoTime() - startNanos) / 1e9);
        return Behaviors.stopped();
    }

    /**
     * Ends the tenant's hold, metering what was served: the prompt once a replica took the request,
     * and the tokens written to the client (what Finished reports). Also runs when the actor stops
     * any other way, so a stream's slot is never leaked.
     */
    private Behavior<Object> endLease() {
        lease.end(admittedOnce ? request.prompt().length : 0, written,
                completed == null ? 0 : completed.cachedTokens());
        return this;
    }

    private void log(String format, Object a, Object b, Object c) {
        MDC.put("requestId", request.requestId());
        MDC.put("tenant", request.tenant());
        MDC.put("model", request.model());
        try {
            getContext().getLog().info("request {} (tenant {}, model {}): " + format,
                    request.requestId(), request.tenant(), request.model(), a, b, c);
        } finally {
            MDC.clear();
        }
    }
}
