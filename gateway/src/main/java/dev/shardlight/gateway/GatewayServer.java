package dev.shardlight.gateway;

import dev.shardlight.proto.v1.InferenceGrpc;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * The gateway's gRPC server: shardlight.v1.Inference behind the tenant interceptor, standard
 * grpc.health.v1 health (overall "" and per service) and server reflection v1. Takes a
 * {@link ServerBuilder} so tests run it in-process and nodes on Netty.
 */
public final class GatewayServer {
    private final Server server;
    private final HealthStatusManager health = new HealthStatusManager();

    GatewayServer(ServerBuilder<?> builder, InferenceService inference, Tenants tenants, ServerServiceDefinition... more) {
        for (ServerServiceDefinition s : more) {
            builder.addService(s); // e.g. shardlight.v1.Admin, behind its own admin-key check rather than Tenants
        }
        this.server = builder
                .addService(ServerInterceptors.intercept(inference, tenants))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .build();
    }

    public GatewayServer start() throws IOException {
        server.start();
        return this;
    }

    /** Serving once some model has a ready replica (see {@link ShardlightNode}); not serving before. */
    public void setServing(boolean serving) {
        ServingStatus s = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, s);
        health.setStatus(InferenceGrpc.SERVICE_NAME, s);
    }

    public int port() {
        return server.getPort();
    }

    /** Refuses new calls, lets running streams finish for up to {@code graceSeconds}, then cuts them. */
    public void stop(long graceSeconds) throws InterruptedException {
        health.enterTerminalState();
        server.shutdown();
        if (!server.awaitTermination(graceSeconds, TimeUnit.SECONDS)) {
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
