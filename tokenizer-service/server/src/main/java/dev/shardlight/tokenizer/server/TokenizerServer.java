package dev.shardlight.tokenizer.server;

import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import dev.shardlight.tokenizer.Tokenizer;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The tokenizer service's gRPC server: shardlight.v1.TokenizerService, grpc.health.v1 health
 * (overall "" and per service) and server reflection v1, so generic clients (grpcurl) can call it.
 * Takes a {@link ServerBuilder} so tests run it in-process and the CLI on Netty.
 */
public final class TokenizerServer {
    private final Server server;
    private final HealthStatusManager health = new HealthStatusManager();

    public TokenizerServer(ServerBuilder<?> builder, Map<String, Tokenizer> tokenizers, RequestLimits limits) {
        this.server = builder
                .addService(Utf8CheckedRequests.wrap(new TokenizerService(new ServedTokenizers(tokenizers), limits).bindService()))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                .build();
    }

    /** Starts serving; health says SERVING from here on (the tokenizers are loaded before). */
    public TokenizerServer start() throws IOException {
        server.start();
        health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
        health.setStatus(TokenizerServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
        return this;
    }

    /** The bound port (for a server built on port 0), or -1 in-process. */
    public int port() {
        return server.getPort();
    }

    /**
     * Health turns NOT_SERVING (so balancers stop sending), new calls are refused, calls in flight
     * finish for up to {@code graceSeconds}, then the rest are cancelled.
     */
    public void stop(long graceSeconds) throws InterruptedException {
        health.enterTerminalState();
        server.shutdown();
        if (!server.awaitTermination(graceSeconds, TimeUnit.SECONDS)) {
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** Blocks until the server has stopped. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }
}
