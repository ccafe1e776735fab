package dev.shardlight.gateway;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

import java.util.Map;

/**
 * API key → tenant id. The key comes in metadata as {@code x-api-key: KEY} or
 * {@code authorization: Bearer KEY}. With no keys configured every caller is tenant
 * {@code anonymous}; with keys configured an unknown or missing key is UNAUTHENTICATED. A real
 * tenant registry arrives with multi-tenancy; the tenant already travels through every hop.
 */
public final class Tenants implements ServerInterceptor {
    public static final String ANONYMOUS = "anonymous";
    /** The calling tenant, set for the duration of each call. */
    public static final Context.Key<String> TENANT = Context.key("shardlight-tenant");

    static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final Map<String, String> tenantByKey;

    /** @param tenantByKey API key → tenant id; empty disables authentication */
    public Tenants(Map<String, String> tenantByKey) {
        this.tenantByKey = Map.copyOf(tenantByKey);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String tenant = ANONYMOUS;
        if (!tenantByKey.isEmpty() && !isPublic(call.getMethodDescriptor().getServiceName())) {
            String key = key(headers);
            tenant = tenantOf(key);
            if (tenant == null) {
                call.close(Status.UNAUTHENTICATED.withDescription(key == null
                        ? "missing API key: send metadata \"x-api-key: KEY\" or \"authorization: Bearer KEY\""
                        : "unknown API key"), new Metadata());
                return new ServerCall.Listener<>() {
                };
            }
        }
        return Contexts.interceptCall(Context.current().withValue(TENANT, tenant), call, headers, next);
    }

    /**
     * The tenant of an API key ({@code null}: none sent), or null when such a caller is refused;
     * for a door that refuses requests before they become gRPC calls and counts them per tenant.
     */
    public String tenantOf(String key) {
        if (tenantByKey.isEmpty()) {
            return ANONYMOUS;
        }
        return key == null ? null : tenantByKey.get(key);
    }

    /** Health and reflection stay open so probes and grpcurl work without a key. */
    private static boolean isPublic(String service) {
        return service != null && (service.startsWith("grpc.health.") || service.startsWith("grpc.reflection."));
    }

    private static String key(Metadata headers) {
        String k = headers.get(API_KEY);
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
