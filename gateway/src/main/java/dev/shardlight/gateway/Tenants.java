package dev.shardlight.gateway;

import dev.shardlight.gateway.tenants.TenantRegistry;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * API key → tenant, through the {@link TenantRegistry}. The key comes in metadata as
 * {@code x-api-key: KEY} or {@code authorization: Bearer KEY}. While no tenant has a key every
 * caller is tenant {@code anonymous}; once one has, a missing or unknown key is UNAUTHENTICATED,
 * and so is a revoked one (the message says it was revoked). The key itself is never logged or
 * passed on: the call carries the tenant and the key's public id.
 */
public final class Tenants implements ServerInterceptor {
    public static final String ANONYMOUS = TenantRegistry.ANONYMOUS;
    /** The calling tenant, set for the duration of each call. */
    public static final Context.Key<String> TENANT = Context.key("shardlight-tenant");
    /** The calling tenant and key id, set for the duration of each call. */
    public static final Context.Key<TenantRegistry.Caller> CALLER = Context.key("shardlight-caller");

    static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final TenantRegistry registry;

    public Tenants(TenantRegistry registry) {
        this.registry = registry;
    }

    public TenantRegistry registry() {
        return registry;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        TenantRegistry.Caller caller = new TenantRegistry.Caller(ANONYMOUS, null);
        if (registry.keysRequired() && !isPublic(call.getMethodDescriptor().getServiceName())) {
            String key = key(headers, API_KEY);
            Status refusal = null;
            if (key == null) {
                refusal = Status.UNAUTHENTICATED.withDescription(
                        "missing API key: send metadata \"x-api-key: KEY\" or \"authorization: Bearer KEY\"");
            } else {
                switch (registry.authenticate(key)) {
                    case TenantRegistry.Authenticated a -> caller = a.caller();
                    case TenantRegistry.Revoked r -> refusal = Status.UNAUTHENTICATED.withDescription(
                            "API key " + r.keyId() + " of tenant " + r.tenant() + " has been revoked");
                    case TenantRegistry.Unknown u -> refusal = Status.UNAUTHENTICATED.withDescription("unknown API key");
                }
            }
            if (refusal != null) {
                call.close(refusal, new Metadata());
                return new ServerCall.Listener<>() {
                };
            }
        }
        Context ctx = Context.current().withValue(TENANT, caller.tenant()).withValue(CALLER, caller);
        return Contexts.interceptCall(ctx, call, headers, next);
    }

    /**
     * The tenant of an API key ({@code null}: none sent), or null when such a caller is refused;
     * for a door that refuses requests before they become gRPC calls and counts them per tenant.
     */
    public String tenantOf(String key) {
        if (!registry.keysRequired()) {
            return ANONYMOUS;
        }
        return key != null && registry.authenticate(key) instanceof TenantRegistry.Authenticated a ? a.caller().tenant() : null;
    }

    /** Health and reflection stay open so probes and grpcurl work without a key. */
    private static boolean isPublic(String service) {
        return service != null && (service.startsWith("grpc.health.") || service.startsWith("grpc.reflection."));
    }

    /** The key from {@code x-api-key} (or the given header) or a bearer token; null when neither is there. */
    static String key(Metadata headers, Metadata.Key<String> header) {
        String k = headers.get(header);
        if (k != null && !k.isBlank()) {
            return k.trim();
        }
        String auth = headers.get(AUTHORIZATION);
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return auth.substring(7).trim();
        }
        return null;
    }
}
