package dev.shardlight.gateway;

import dev.shardlight.gateway.openai.OpenAiHttpServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;

import java.io.IOException;
import java.util.UUID;
import java.util.function.BooleanSupplier;

/**
 * The OpenAI-compatible HTTP API as a second door into the same path as gRPC: the same
 * {@link InferenceService} (validation, {@link GenerateSession}, routing, metrics) behind the same
 * {@link Tenants} interceptor, reached over an in-process gRPC channel, so HTTP requests become
 * the very GenerateRequests a gRPC client would send (flow control and cancellation included).
 * Keys are checked here first with the same {@link Tenants}, and generation requests this door
 * refuses itself (bad JSON, 413, unknown key, OpenAI-only fields) are counted in the same
 * shardlight_requests_total as gRPC's, labelled with the gRPC status they stand for.
 */
final class HttpDoor implements AutoCloseable {
    private final GatewayServer inProcess;
    private final ManagedChannel channel;
    private final OpenAiHttpServer http;

    HttpDoor(String host, int port, long maxBodyBytes, InferenceService inference, Tenants tenants,
             ServingMetrics metrics, BooleanSupplier ready) throws IOException {
        String name = "shardlight-http-" + UUID.randomUUID();
        this.inProcess = new GatewayServer(InProcessServerBuilder.forName(name), inference, tenants).start();
        this.channel = InProcessChannelBuilder.forName(name).build();
        OpenAiHttpServer started;
        try {
            started = OpenAiHttpServer.start(host, port, maxBodyBytes, channel, ready, new OpenAiHttpServer.Admission() {
                @Override
                public String tenant(String apiKey) {
                    return tenants.tenantOf(apiKey);
                }

                @Override
                public void refused(String model, String tenant, Status.Code code) {
                    metrics.requests.labelValues(model, tenant, code.name()).inc();
                }
            });
        } catch (IOException | RuntimeException e) {
            channel.shutdownNow();
            try {
                inProcess.stop(0);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            throw e;
        }
        this.http = started;
    }

    int port() {
        return http.port();
    }

    /** Stops taking requests, gives running streams up to {@code graceSeconds}, then cuts them. */
    void stop(long graceSeconds) throws InterruptedException {
        http.stop(graceSeconds);
        channel.shutdownNow();
        inProcess.stop(1);
    }

    @Override
    public void close() throws InterruptedException {
        stop(0);
    }
}
