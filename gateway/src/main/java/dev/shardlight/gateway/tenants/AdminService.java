package dev.shardlight.gateway.tenants;

import com.google.protobuf.Timestamp;
import dev.shardlight.proto.v1.AddApiKeyRequest;
import dev.shardlight.proto.v1.AddApiKeyResponse;
import dev.shardlight.proto.v1.AdminGrpc;
import dev.shardlight.proto.v1.ApiKey;
import dev.shardlight.proto.v1.CreateTenantRequest;
import dev.shardlight.proto.v1.DeleteTenantRequest;
import dev.shardlight.proto.v1.DeleteTenantResponse;
import dev.shardlight.proto.v1.GetTenantRequest;
import dev.shardlight.proto.v1.GetUsageRequest;
import dev.shardlight.proto.v1.GetUsageResponse;
import dev.shardlight.proto.v1.ListTenantsRequest;
import dev.shardlight.proto.v1.ListTenantsResponse;
import dev.shardlight.proto.v1.RevokeApiKeyRequest;
import dev.shardlight.proto.v1.Tenant;
import dev.shardlight.proto.v1.UpdateTenantRequest;
import dev.shardlight.proto.v1.UsageTotal;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import org.slf4j.LoggerFactory;

import java.security.MessageDigest;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.Supplier;

/**
 * The shardlight.v1.Admin service: the tenant registry and usage totals of this gateway node,
 * behind the admin key ({@code shardlight.gateway.admin-key}; with none configured every call is
 * UNAUTHENTICATED, so the API is off).
 */
public final class AdminService extends AdminGrpc.AdminImplBase {
    static final Metadata.Key<String> ADMIN_KEY = Metadata.Key.of("x-admin-key", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final TenantRegistry registry;
    private final UsageLedger ledger;

    public AdminService(TenantRegistry registry, UsageLedger ledger) {
        this.registry = registry;
        this.ledger = ledger;
    }

    /** This service behind the admin-key check; {@code adminKey} empty: every call refused. */
    public ServerServiceDefinition protectedBy(String adminKey) {
        return ServerInterceptors.intercept(this, new AdminKeyCheck(adminKey));
    }

    @Override
    public void createTenant(CreateTenantRequest request, StreamObserver<Tenant> out) {
        answer(out, () -> toProto(registry.create(settings(request.getTenant()))));
    }

    @Override
    public void updateTenant(UpdateTenantRequest request, StreamObserver<Tenant> out) {
        answer(out, () -> toProto(registry.update(settings(request.getTenant()))));
    }

    @Override
    public void getTenant(GetTenantRequest request, StreamObserver<Tenant> out) {
        answer(out, () -> toProto(registry.get(request.getId()).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("no tenant " + request.getId()).asRuntimeException())));
    }

    @Override
    public void listTenants(ListTenantsRequest request, StreamObserver<ListTenantsResponse> out) {
        answer(out, () -> ListTenantsResponse.newBuilder().addAllTenants(registry.list().stream().map(AdminService::toProto).toList())
                .build());
    }

    @Override
    public void deleteTenant(DeleteTenantRequest request, StreamObserver<DeleteTenantResponse> out) {
        answer(out, () -> {
            registry.delete(request.getId());
            return DeleteTenantResponse.getDefaultInstance();
        });
    }

    @Override
    public void addApiKey(AddApiKeyRequest request, StreamObserver<AddApiKeyResponse> out) {
        answer(out, () -> {
            ApiKeys.Made made = registry.addKey(request.getTenant(), request.getLabel(),
                    Integer.toUnsignedLong(request.getRequestsPerMinute()), request.getTokensPerMinute());
            return AddApiKeyResponse.newBuilder().setKey(toProto(request.getTenant(), made.record())).setApiKey(made.key()).build();
        });
    }

    @Override
    public void revokeApiKey(RevokeApiKeyRequest request, StreamObserver<ApiKey> out) {
        answer(out, () -> toProto(request.getTenant(), registry.revokeKey(request.getTenant(), request.getKeyId())));
    }

    @Override
    public void getUsage(GetUsageRequest request, StreamObserver<GetUsageResponse> out) {
        answer(out, () -> {
            long since = request.hasSince() ? request.getSince().getSeconds() * 1000 + request.getSince().getNanos() / 1_000_000 : 0;
            GetUsageResponse.Builder b = GetUsageResponse.newBuilder().setSince(timestamp(UsageLedger.effectiveSince(since)));
            for (UsageLedger.Total t : ledger.totalsSince(since, request.getTenant())) {
                b.addTotals(UsageTotal.newBuilder().setTenant(t.tenant()).setKeyId(t.keyId()).setModel(t.model())
                        .setRequests(t.requests()).setPromptTokens(t.promptTokens()).setCompletionTokens(t.completionTokens())
                        .setCachedTokens(t.cachedTokens()));
            }
            return b.build();
        });
    }

    private static <T> void answer(StreamObserver<T> out, Supplier<T> body) {
        T reply;
        try {
            reply = body.get();
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (IllegalArgumentException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (RuntimeException e) {
            LoggerFactory.getLogger(AdminService.class).error("admin call failed", e);
            out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        out.onNext(reply);
        out.onCompleted();
    }

    private static TenantSpec settings(Tenant t) {
        var l = t.getLimits();
        if (l.getRequestsPerMinute() < 0 || l.getMaxConcurrentStreams() < 0 || l.getMaxTokensPerRequest() < 0
                || l.getTokensPerMinute() < 0 || t.getPriorityClass() < 0) {
            throw new IllegalArgumentException("limits and priority_class are at most 2^31 - 1");
        }
        return new TenantSpec(t.getId(), new LinkedHashSet<>(t.getAllowedModelsList()), new TenantLimits(
                l.getRequestsPerMinute(), l.getTokensPerMinute(), l.getMaxConcurrentStreams(), l.getMaxTokensPerRequest()),
                t.getPriorityClass(), t.getWeight() == 0 ? 1.0 : t.getWeight(), List.of());
    }

    static Tenant toProto(TenantSpec t) {
        TenantLimits l = t.limits();
        Tenant.Builder b = Tenant.newBuilder().setId(t.id()).addAllAllowedModels(new java.util.TreeSet<>(t.allowedModels()))
                .setLimits(dev.shardlight.proto.v1.TenantLimits.newBuilder().setRequestsPerMinute((int) l.requestsPerMinute())
                        .setTokensPerMinute(l.tokensPerMinute()).setMaxConcurrentStreams(l.maxConcurrentStreams())
                        .setMaxTokensPerRequest(l.maxTokensPerRequest()))
                .setPriorityClass(t.priorityClass()).setWeight(t.weight());
        t.keys().forEach(k -> b.addKeys(toProto(t.id(), k)));
        return b.build();
    }

    static ApiKey toProto(String tenant, ApiKeyRecord k) {
        ApiKey.Builder b = ApiKey.newBuilder().setKeyId(k.keyId()).setTenant(tenant).setLabel(k.label())
                .setCreated(timestamp(k.createdMillis())).setRequestsPerMinute((int) k.requestsPerMinute())
                .setTokensPerMinute(k.tokensPerMinute());
        if (k.revoked()) {
            b.setRevoked(timestamp(k.revokedMillis()));
        }
        return b.build();
    }

    private static Timestamp timestamp(long millis) {
        return Timestamp.newBuilder().setSeconds(Math.floorDiv(millis, 1000)).setNanos((int) Math.floorMod(millis, 1000) * 1_000_000).build();
    }

    /** Compares salted hashes in constant time, so the admin key is held only as a hash. */
    private static final class AdminKeyCheck implements ServerInterceptor {
        private final byte[] salt = new byte[16];
        private final byte[] hash;

        AdminKeyCheck(String adminKey) {
            new java.security.SecureRandom().nextBytes(salt);
            this.hash = adminKey == null || adminKey.isEmpty() ? null : ApiKeys.hash(salt, adminKey);
        }

        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            String presented = headers.get(ADMIN_KEY);
            String auth = headers.get(AUTHORIZATION);
            if ((presented == null || presented.isBlank()) && auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
                presented = auth.substring(7);
            }
            String refusal = hash == null ? "the admin API is off: set shardlight.gateway.admin-key"
                    : presented == null || presented.isBlank() ? "missing admin key: send metadata \"x-admin-key: KEY\""
                    : !MessageDigest.isEqual(hash, ApiKeys.hash(salt, presented.trim())) ? "wrong admin key" : null;
            if (refusal != null) {
                call.close(Status.UNAUTHENTICATED.withDescription(refusal), new Metadata());
                return new ServerCall.Listener<>() {
                };
            }
            return next.startCall(call, headers);
        }
    }
}
