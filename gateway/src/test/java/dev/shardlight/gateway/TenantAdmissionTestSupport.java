package dev.shardlight.gateway;

import dev.shardlight.proto.v1.Delta;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.InferenceGrpc;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generate calls made with an API key, for the tenant tests. */
final class TenantAdmissionTestSupport {
    private TenantAdmissionTestSupport() {
    }

    static Channel as(Channel channel, String key) {
        Metadata md = new Metadata();
        md.put(Tenants.API_KEY, key);
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md));
    }

    static List<GenerateResponse> generate(Channel channel, String key, GenerateRequest r) {
        List<GenerateResponse> out = new ArrayList<>();
        InferenceGrpc.newBlockingStub(as(channel, key)).withDeadlineAfter(30, TimeUnit.SECONDS).generate(r).forEachRemaining(out::add);
        return out;
    }

    /** The generated token ids of a call that must finish. */
    static List<Integer> completion(Channel channel, String key, GenerateRequest r) {
        List<GenerateResponse> out = generate(channel, key, r);
        assertTrue(out.get(out.size() - 1).hasFinished(), "ends with Finished");
        List<Integer> ids = new ArrayList<>();
        out.stream().filter(GenerateResponse::hasDelta).map(GenerateResponse::getDelta).map(Delta::getTokenIdsList).forEach(ids::addAll);
        return ids;
    }

    static Finished finished(Channel channel, String key, GenerateRequest r) {
        List<GenerateResponse> out = generate(channel, key, r);
        assertTrue(out.get(out.size() - 1).hasFinished(), "ends with Finished");
        return out.get(out.size() - 1).getFinished();
    }

    static Status refusal(Channel channel, String key, GenerateRequest r) {
        return assertThrows(StatusRuntimeException.class, () -> generate(channel, key, r)).getStatus();
    }
}
