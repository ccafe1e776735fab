package dev.shardlight.gateway;

import dev.shardlight.gateway.routing.ClassifyCall;
import dev.shardlight.gateway.tenants.Admission;
import dev.shardlight.gateway.tenants.TenantRegistry;
import dev.shardlight.gateway.routing.IntentRouter;
import dev.shardlight.proto.v1.ClassifyRequest;
import dev.shardlight.proto.v1.ClassifyResponse;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.ListModelsRequest;
import dev.shardlight.proto.v1.ListModelsResponse;
import dev.shardlight.proto.v1.Model;
import dev.shardlight.router.ReplicaDirectory;
import dev.shardlight.router.RouterView;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The shardlight.v1.Inference service: admits (tenant limits) and validates on the gRPC thread
 * (refusals never touch the cluster), then hands each Generate call to its own
 * {@link GenerateSession} actor, which ends the call's {@link Admission.Lease} however it ends.
 */
final class InferenceService extends InferenceGrpc.InferenceImplBase {
    private static final AtomicLong SESSIONS = new AtomicLong();

    private final ActorSystem<?> system;
    private final ActorRef<ReplicaDirectory.Command> directory;
    private final RouterView view;
    private final RequestValidator validator;
    private final PromptCodec.Registry codecs;
    private final ServingMetrics metrics;
    private final GenerateSession.Settings settings;
    private final Admission admission;
    private volatile AutoRouting autoRouting = new AutoRouting(this, null);
    private volatile ClassifyCall classifyCall;

    InferenceService(ActorSystem<?> system, ActorRef<ReplicaDirectory.Command> directory, RouterView view,
                     PromptCodec.Registry codecs, ServingMetrics metrics, GenerateSession.Settings settings, Admission admission) {
        this.system = system;
        this.directory = directory;
        this.view = view;
        this.codecs = codecs;
        this.validator = new RequestValidator(view, codecs);
        this.metrics = metrics;
        this.settings = settings;
        this.admission = admission;
    }

    /** Intent routing for model "auto" and the Classify call; set once by ShardlightNode before serving. */
    void enableRouting(IntentRouter router, ClassifyCall classify) {
        this.autoRouting = new AutoRouting(this, router);
        this.classifyCall = classify;
    }

    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateResponse> observer) {
        ServerCallStreamObserver<GenerateResponse> client = (ServerCallStreamObserver<GenerateResponse>) observer;
        if (AutoRouting.AUTO.equals(request.getModel())) {
            autoRouting.route(request, client);
            return;
        }
        Deadline deadline = Context.current().getDeadline();
        ActorRef<Object> session = open(request, client, null);
        if (session != null) {
            // gRPC invokes these on its own threads; the session does all writes.
            client.setOnReadyHandler(() -> session.tell(GenerateSession.ClientReady.INSTANCE));
            client.setOnCancelHandler(() -> session.tell(new GenerateSession.ClientCancelled(cancelReason(deadline))));
        }
    }

    /** A client whose own deadline fires resets the stream a moment before ours expires: count that as the deadline. */
    static String cancelReason(Deadline deadline) {
        return deadline != null && deadline.timeRemaining(TimeUnit.MILLISECONDS) < 250 ? "deadline exceeded" : "client cancelled";
    }

    /**
     * Validates and starts the call's session (in the current gRPC context: tenant, deadline);
     * null when refused (the client has its error). {@code routing}: the model "auto" decision.
     */
    ActorRef<Object> open(GenerateRequest request, ServerCallStreamObserver<GenerateResponse> client,
                          dev.shardlight.proto.v1.RoutingDecision routing) {
        StreamObserver<GenerateResponse> observer = client;
        TenantRegistry.Caller caller = Tenants.CALLER.get() == null ? new TenantRegistry.Caller(Tenants.ANONYMOUS, null)
                : Tenants.CALLER.get();
        String tenant = caller.tenant();
        Deadline deadline = Context.current().getDeadline();
        long deadlineEpochMillis = deadline == null ? 0
                : System.currentTimeMillis() + Math.max(1, deadline.timeRemaining(TimeUnit.MILLISECONDS));
        ValidRequest valid;
        Admission.Lease lease;
        try {
            int maxTokensCap = admission.precheck(caller, request.getModel(), Integer.toUnsignedLong(request.getMaxTokens()));
            valid = validator.validate(request, tenant, deadlineEpochMillis);
            if (request.getMaxTokens() == 0 && maxTokensCap > 0 && valid.maxTokens() > maxTokensCap) {
                // max_tokens left at 0 means "as many as allowed": the tenant's bound is what is allowed
                valid = new ValidRequest(valid.requestId(), valid.tenant(), valid.model(), valid.prompt(), maxTokensCap,
                        valid.sampling(), valid.stopTokens(), valid.stop(), valid.codec(), valid.deadlineEpochMillis(),
                        valid.logprobs());
            }
            lease = admission.admit(caller, valid.model(), valid.prompt().length, valid.maxTokens());
        } catch (StatusException e) {
            metrics.requests.labelValues(request.getModel(), tenant, e.getStatus().getCode().name()).inc();
            observer.onError(e);
            return null;
        } catch (RuntimeException | LinkageError e) {
            // e.g. a tokenizer or chat template failing on this input: say so instead of gRPC's bare UNKNOWN
            LoggerFactory.getLogger(InferenceService.class).error("preparing a request for model {} failed", request.getModel(), e);
            metrics.requests.labelValues(request.getModel(), tenant, Status.Code.INTERNAL.name()).inc();
            observer.onError(Status.INTERNAL.withDescription("preparing the prompt failed: " + e).asException());
            return null;
        }
        try {
            return system.systemActorOf(GenerateSession.create(valid, client, directory, metrics, settings, lease, routing),
                    "generate-" + SESSIONS.incrementAndGet(), Props.empty());
        } catch (RuntimeException e) {
            lease.end(0, 0, 0);
            throw e;
        }
    }

    /** The public Classify call (see {@link ClassifyCall}). */
    @Override
    public void classify(ClassifyRequest request, StreamObserver<ClassifyResponse> observer) {
        ClassifyCall call = classifyCall;
        if (call == null) {
            observer.onError(Status.UNIMPLEMENTED.withDescription("Classify is not enabled on this gateway").asException());
            return;
        }
        call.handle(request, observer);
    }

    @Override
    public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> observer) {
        ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
        view.models().forEach(m -> b.addModels(ModelDescriptions.describe(m, codecs.forModel(m.spec().id()).isPresent())));
        observer.onNext(b.build());
        observer.onCompleted();
    }

    @Override
    public void getModel(GetModelRequest request, StreamObserver<Model> observer) {
        var m = view.model(request.getId());
        if (m.isEmpty()) {
            observer.onError(Status.NOT_FOUND.withDescription("model \"" + request.getId() + "\" is not served here; served models: "
                    + String.join(", ", view.models().stream().map(x -> x.spec().id()).toList())).asException());
            return;
        }
        observer.onNext(ModelDescriptions.describe(m.get(), codecs.forModel(request.getId()).isPresent()));
        observer.onCompleted();
    }
}
