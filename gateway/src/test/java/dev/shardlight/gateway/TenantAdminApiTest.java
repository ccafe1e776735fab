package dev.shardlight.gateway;

import com.google.protobuf.Timestamp;
import dev.shardlight.proto.v1.AddApiKeyRequest;
import dev.shardlight.proto.v1.AddApiKeyResponse;
import dev.shardlight.proto.v1.AdminGrpc;
import dev.shardlight.proto.v1.CreateTenantRequest;
import dev.shardlight.proto.v1.DeleteTenantRequest;
import dev.shardlight.proto.v1.GetTenantRequest;
import dev.shardlight.proto.v1.GetUsageRequest;
import dev.shardlight.proto.v1.ListTenantsRequest;
import dev.shardlight.proto.v1.RevokeApiKeyRequest;
import dev.shardlight.proto.v1.Tenant;
import dev.shardlight.proto.v1.TenantLimits;
import dev.shardlight.proto.v1.UpdateTenantRequest;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shardlight.v1.Admin API on a gateway node: its key, tenant CRUD, and key rotation as Generate callers see it. */
class TenantAdminApiTest {
    static final String ADMIN_KEY = "admin-key-0123456789";
    @TempDir
    static Path data;
    static TestNodes.Started cluster;
    static ManagedChannel channel;
    static AdminGrpc.AdminBlockingStub admin;

    @BeforeAll
    static void start() throws Exception {
        cluster = TestNodes.start(TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 8)), """
                shardlight.gateway.admin-key = "%s"
                shardlight.gateway.data-dir = "%s"
                shardlight.tenants.seed.keys = [ { id = main, key = "seed-key-0123456789" } ]
                """.formatted(ADMIN_KEY, data.toString().replace("\\", "/"))));
        channel = cluster.channel();
        admin = withHeader(AdminGrpc.newBlockingStub(channel), "x-admin-key", ADMIN_KEY);
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow();
        cluster.close();
    }

    static <S extends io.grpc.stub.AbstractStub<S>> S withHeader(S stub, String name, String value) {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of(name, Metadata.ASCII_STRING_MARSHALLER), value);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    static Status adminRefusal(AdminGrpc.AdminBlockingStub stub) {
        return assertThrows(StatusRuntimeException.class, () -> stub.listTenants(ListTenantsRequest.getDefaultInstance())).getStatus();
    }

    static Status fails(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus();
    }

    static Tenant tenant(String id, int rpm, double weight, String... models) {
        return Tenant.newBuilder().setId(id).addAllAllowedModels(List.of(models))
                .setLimits(TenantLimits.newBuilder().setRequestsPerMinute(rpm).setMaxConcurrentStreams(2)).setPriorityClass(1)
                .setWeight(weight).build();
    }

    @Test
    void everyAdminCallNeedsTheAdminKey() {
        Status missing = adminRefusal(AdminGrpc.newBlockingStub(channel));
        assertEquals(Status.Code.UNAUTHENTICATED, missing.getCode());
        assertEquals("missing admin key: send metadata \"x-admin-key: KEY\"", missing.getDescription());
        assertEquals("wrong admin key", adminRefusal(withHeader(AdminGrpc.newBlockingStub(channel), "x-admin-key", "nope")).getDescription());
        assertEquals("wrong admin key", adminRefusal(withHeader(AdminGrpc.newBlockingStub(channel), "authorization",
                "Bearer seed-key-0123456789")).getDescription(), "a tenant's API key is no admin key");
        assertTrue(withHeader(AdminGrpc.newBlockingStub(channel), "authorization", "Bearer " + ADMIN_KEY)
                .listTenants(ListTenantsRequest.getDefaultInstance()).getTenantsList().stream().anyMatch(t -> t.getId().equals("seed")));
    }

    @Test
    void tenantsAreCreatedReadListedUpdatedAndDeleted() {
        Tenant created = admin.createTenant(CreateTenantRequest.newBuilder().setTenant(tenant("crud", 60, 2.5, "tiny")).build());
        assertEquals(tenant("crud", 60, 2.5, "tiny"), created);
        assertEquals(created, admin.getTenant(GetTenantRequest.newBuilder().setId("crud").build()));
        assertTrue(admin.listTenants(ListTenantsRequest.getDefaultInstance()).getTenantsList().contains(created));
        assertEquals(new dev.shardlight.gateway.tenants.TenantRegistry.Scheduling(1, 2.5),
                cluster.node().tenantRegistry().schedulingOf("crud"));

        Status dup = fails(() -> admin.createTenant(CreateTenantRequest.newBuilder().setTenant(tenant("crud", 1, 1)).build()));
        assertEquals(Status.Code.ALREADY_EXISTS, dup.getCode());
        assertEquals("tenant crud exists", dup.getDescription());
        Status badId = fails(() -> admin.createTenant(CreateTenantRequest.newBuilder().setTenant(tenant("no spaces", 1, 1)).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, badId.getCode());
        assertEquals("tenant id \"no spaces\" must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}", badId.getDescription());
        assertEquals("tenant crud: weight = -1.0 must be > 0", fails(() -> admin.updateTenant(
                UpdateTenantRequest.newBuilder().setTenant(tenant("crud", 1, -1)).build())).getDescription());

        AddApiKeyResponse key = admin.addApiKey(AddApiKeyRequest.newBuilder().setTenant("crud").setLabel("ci").build());
        Tenant updated = admin.updateTenant(UpdateTenantRequest.newBuilder().setTenant(tenant("crud", 5, 1)).build());
        assertEquals(5, updated.getLimits().getRequestsPerMinute());
        assertEquals(0, updated.getAllowedModelsCount(), "no allowed models: every model");
        assertEquals(List.of(key.getKey()), updated.getKeysList(), "an update keeps the keys");

        admin.deleteTenant(DeleteTenantRequest.newBuilder().setId("crud").build());
        Status gone = fails(() -> admin.getTenant(GetTenantRequest.newBuilder().setId("crud").build()));
        assertEquals(Status.Code.NOT_FOUND, gone.getCode());
        assertEquals("no tenant crud", gone.getDescription());
        assertEquals(Status.Code.NOT_FOUND, fails(() -> admin.deleteTenant(DeleteTenantRequest.newBuilder().setId("crud").build())).getCode());
    }

    @Test
    void keysRotateAndARevokedKeyIsRefusedNamingIt() throws Exception {
        admin.createTenant(CreateTenantRequest.newBuilder().setTenant(tenant("rotating", 0, 1)).build());
        AddApiKeyResponse old = admin.addApiKey(AddApiKeyRequest.newBuilder().setTenant("rotating").setLabel("old").build());
        assertTrue(old.getApiKey().startsWith("sl_" + old.getKey().getKeyId() + "_"), "the key is returned once");
        var request = TestNodes.tokens("tiny", 2, 2).build();
        assertEquals(2, TenantAdmissionTestSupport.completion(channel, old.getApiKey(), request).size());

        AddApiKeyResponse fresh = admin.addApiKey(AddApiKeyRequest.newBuilder().setTenant("rotating").setLabel("new").build());
        TenantAdmissionTestSupport.completion(channel, fresh.getApiKey(), request);
        TenantAdmissionTestSupport.completion(channel, old.getApiKey(), request); // both work during the rotation

        var revoked = admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setTenant("rotating").setKeyId(old.getKey().getKeyId()).build());
        assertTrue(revoked.hasRevoked());
        Status s = TenantAdmissionTestSupport.refusal(channel, old.getApiKey(), request);
        assertEquals(Status.Code.UNAUTHENTICATED, s.getCode());
        assertEquals("API key " + old.getKey().getKeyId() + " of tenant rotating has been revoked", s.getDescription());
        TenantAdmissionTestSupport.completion(channel, fresh.getApiKey(), request);
        assertEquals("tenant rotating has no API key nope", fails(() -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder()
                .setTenant("rotating").setKeyId("nope").build())).getDescription());

        // usage counts the key ids, and the registry on disk holds hashes, never the keys
        var usage = admin.getUsage(GetUsageRequest.newBuilder().setTenant("rotating").build()).getTotalsList();
        assertEquals(2, usage.stream().filter(u -> u.getKeyId().equals(old.getKey().getKeyId())).findFirst().orElseThrow().getRequests());
        String stored = Files.readString(data.resolve("tenants.json"));
        assertFalse(stored.contains(old.getApiKey()) || stored.contains(fresh.getApiKey()));

        admin.deleteTenant(DeleteTenantRequest.newBuilder().setId("rotating").build());
        assertEquals("unknown API key", TenantAdmissionTestSupport.refusal(channel, fresh.getApiKey(), request).getDescription());
        assertEquals(0, admin.getUsage(GetUsageRequest.newBuilder().setSince(Timestamp.newBuilder()
                .setSeconds(System.currentTimeMillis() / 1000 + 120)).build()).getTotalsCount(), "nothing since the future");
    }
}
