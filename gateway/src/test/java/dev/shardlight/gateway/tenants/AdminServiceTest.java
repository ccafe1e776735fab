package dev.shardlight.gateway.tenants;

import com.google.protobuf.Timestamp;
import dev.shardlight.proto.v1.AdminGrpc;
import dev.shardlight.proto.v1.GetUsageRequest;
import dev.shardlight.proto.v1.GetUsageResponse;
import dev.shardlight.proto.v1.ListTenantsRequest;
import dev.shardlight.proto.v1.UsageTotal;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The admin service on its own in-process server (the node-level tests are TenantAdminApiTest and TenantUsageMeteringTest). */
class AdminServiceTest {
    Server server;
    ManagedChannel channel;

    AdminGrpc.AdminBlockingStub start(String adminKey, UsageLedger ledger) throws Exception {
        String name = InProcessServerBuilder.generateName();
        TenantRegistry registry = new TenantRegistry(Map.of(), null, () -> 0);
        server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(new AdminService(registry, ledger).protectedBy(adminKey)).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        Metadata md = new Metadata();
        md.put(AdminService.ADMIN_KEY, "some-admin-key-0123");
        return AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    @Test
    void withoutAConfiguredAdminKeyTheApiIsOff() throws Exception {
        var admin = start("", new UsageLedger(null, (t, k, m, r, p, c, x) -> { }));
        Status s = assertThrows(StatusRuntimeException.class, () -> admin.listTenants(ListTenantsRequest.getDefaultInstance())).getStatus();
        assertEquals(Status.Code.UNAUTHENTICATED, s.getCode());
        assertEquals("the admin API is off: set shardlight.gateway.admin-key", s.getDescription());
    }

    @Test
    void usageSinceCountsWholeMinutesFromTheOneItFallsIn() throws Exception {
        UsageLedger ledger = new UsageLedger(null, (t, k, m, r, p, c, x) -> { });
        ledger.record(new UsageRecord(59_999, "acme", "k1", "tiny", 3, 4, 0));   // minute 0
        ledger.record(new UsageRecord(60_000, "acme", "k1", "tiny", 5, 6, 2));   // minute 1
        ledger.record(new UsageRecord(130_000, "beta", "k9", "tiny", 1, 1, 0));  // minute 2
        var admin = start("some-admin-key-0123", ledger);
        GetUsageResponse all = admin.getUsage(GetUsageRequest.getDefaultInstance());
        assertEquals(List.of(UsageTotal.newBuilder().setTenant("acme").setKeyId("k1").setModel("tiny").setRequests(2)
                        .setPromptTokens(8).setCompletionTokens(10).setCachedTokens(2).build(),
                UsageTotal.newBuilder().setTenant("beta").setKeyId("k9").setModel("tiny").setRequests(1)
                        .setPromptTokens(1).setCompletionTokens(1).build()), all.getTotalsList());
        GetUsageResponse acmeSince = admin.getUsage(GetUsageRequest.newBuilder().setTenant("acme")
                .setSince(Timestamp.newBuilder().setSeconds(61)).build());
        assertEquals(Timestamp.newBuilder().setSeconds(60).build(), acmeSince.getSince(), "rounded down to the minute");
        assertEquals(1, acmeSince.getTotalsCount());
        assertEquals(5, acmeSince.getTotals(0).getPromptTokens());
    }
}
