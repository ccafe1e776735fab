package dev.shardlight.gateway;

import dev.shardlight.gateway.routing.ClassifyCall;
import dev.shardlight.gateway.routing.IntentRouter;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.LoggerFactory;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Generate with model "auto": the {@link IntentRouter} picks the model, then the call proceeds as
 * if the client had named it, with the decision in {@code Finished.routing}. gRPC only accepts
 * the stream's ready and cancel handlers before the service method returns, so they are set at
 * once and forward to the session when routing has created it; a cancel that arrives while
 * routing is still deciding ends the call without starting one.
 */
final class AutoRouting {
    static final String AUTO = "auto";

    private final InferenceService inference;
    private final IntentRouter router;

    AutoRouting(InferenceService inference, IntentRouter router) {
        this.inference = inference;
        this.router = router;
    }

    void route(GenerateRequest request, ServerCallStreamObserver<GenerateResponse> client) {
        if (router == null || !router.enabled()) {
            client.onError(Status.NOT_FOUND.withDescription("model \"auto\" is not offered here: no intent router is configured "
                    + "(shardlight.intents.router-model)").asException());
            return;
        }
        String input;
        try {
            input = switch (request.getInputCase()) {
                case TEXT -> request.getText();
                case CHAT -> ClassifyCall.chatAsText(request.getChat());
                default -> throw Status.INVALID_ARGUMENT.withDescription("model \"auto\" needs text or chat input "
                        + "(token ids belong to one model's vocabulary)").asRuntimeException();
            };
            if (input.isEmpty()) {
                throw Status.INVALID_ARGUMENT.withDescription("text: empty").asRuntimeException();
            }
        } catch (RuntimeException e) {
            client.onError(e);
            return;
        }
        Context context = Context.current();
        Deadline deadline = context.getDeadline();
        AtomicReference<ActorRef<Object>> session = new AtomicReference<>();
        AtomicReference<String> cancelled = new AtomicReference<>();
        client.setOnReadyHandler(() -> {
            ActorRef<Object> s = session.get();
            if (s != null) {
                s.tell(GenerateSession.ClientReady.INSTANCE);
            }
        });
        client.setOnCancelHandler(() -> {
            String why = InferenceService.cancelReason(deadline);
            cancelled.set(why);
            ActorRef<Object> s = session.get();
            if (s != null) {
                s.tell(new GenerateSession.ClientCancelled(why));
            }
        });
        String requestId = request.getRequestId().isEmpty() ? UUID.randomUUID().toString() : request.getRequestId();
        router.route(input, requestId).thenAccept(decision -> context.run(() -> {
            if (cancelled.get() != null) {
                return;
            }
            try {
                ActorRef<Object> s = inference.open(request.toBuilder().setModel(decision.targetModel())
                        .setRequestId(requestId).build(), client, decision.toProto());
                if (s != null) {
                    session.set(s);
                    if (cancelled.get() != null) {
                        s.tell(new GenerateSession.ClientCancelled(cancelled.get()));
                    }
                }
            } catch (RuntimeException e) {
                LoggerFactory.getLogger(AutoRouting.class).error("starting routed request {} failed", requestId, e);
                client.onError(Status.INTERNAL.withDescription("starting the routed request failed: " + e).asException());
            }
        }));
    }
}
