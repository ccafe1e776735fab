package dev.shardlight.tokenizer.server;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import dev.shardlight.proto.v1.ListTokenizersRequest;
import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every Shardlight service offers generic clients: grpc.health.v1 and server reflection v1. */
class HealthAndReflectionTest {
    @Test
    void healthIsServingOverallAndForTheTokenizerService() throws Exception {
        try (TestServer server = new TestServer(RequestLimits.DEFAULT)) {
            HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(server.channel);
            for (String service : List.of("", "shardlight.v1.TokenizerService")) {
                assertEquals(ServingStatus.SERVING,
                        health.check(HealthCheckRequest.newBuilder().setService(service).build()).getStatus(), service);
            }
            assertEquals("shardlight.v1.TokenizerService", TokenizerServiceGrpc.SERVICE_NAME);
        }
    }

    @Test
    void reflectionListsTheServiceAndServesItsSchema() throws Exception {
        try (TestServer server = new TestServer(RequestLimits.DEFAULT)) {
            ServerReflectionResponse list = reflect(server, ServerReflectionRequest.newBuilder().setListServices("").build());
            List<String> services = list.getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName).toList();
            assertTrue(services.containsAll(List.of("shardlight.v1.TokenizerService", "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection")), services.toString());

            ServerReflectionResponse schema = reflect(server, ServerReflectionRequest.newBuilder()
                    .setFileContainingSymbol("shardlight.v1.TokenizerService").build());
            FileDescriptorProto file = FileDescriptorProto.parseFrom(
                    schema.getFileDescriptorResponse().getFileDescriptorProto(0));
            assertEquals("shardlight/v1/tokenizer.proto", file.getName());
            assertEquals(List.of("Encode", "Decode", "CountTokens", "ApplyChatTemplate", "ListTokenizers"),
                    file.getService(0).getMethodList().stream().map(m -> m.getName()).toList());
        }
    }

    @Test
    void stopTellsHealthWatchersNotServingThenRefusesNewCalls() throws Exception {
        TestServer server = new TestServer(RequestLimits.DEFAULT);
        BlockingQueue<ServingStatus> seen = new LinkedBlockingQueue<>();
        HealthGrpc.newStub(server.channel).watch(HealthCheckRequest.newBuilder().setService("").build(),
                new ClientResponseObserver<HealthCheckRequest, HealthCheckResponse>() {
                    private ClientCallStreamObserver<HealthCheckRequest> call;

                    @Override
                    public void beforeStart(ClientCallStreamObserver<HealthCheckRequest> requestStream) {
                        call = requestStream;
                    }

                    @Override
                    public void onNext(HealthCheckResponse value) {
                        seen.add(value.getStatus());
                        if (value.getStatus() == ServingStatus.NOT_SERVING) {
                            // a watch never ends by itself: without this, stop() would wait out its grace period
                            call.cancel("seen", null);
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        assertEquals(ServingStatus.SERVING, seen.poll(5, TimeUnit.SECONDS));
        long start = System.nanoTime();
        server.server.stop(30);
        assertEquals(ServingStatus.NOT_SERVING, seen.poll(5, TimeUnit.SECONDS));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "stop waited only for the calls in flight");
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> server.stub().listTokenizers(ListTokenizersRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
        server.channel.shutdownNow();
    }

    private static ServerReflectionResponse reflect(TestServer server, ServerReflectionRequest request) throws Exception {
        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(server.channel).serverReflectionInfo(
                new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse value) {
                        answer.complete(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answer.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        requests.onNext(request);
        ServerReflectionResponse response = answer.get(10, TimeUnit.SECONDS);
        requests.onCompleted();
        return response;
    }
}
