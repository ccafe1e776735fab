package dev.shardlight.gateway.tenants;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * One tenant of the registry.
 *
 * @param allowedModels model ids the tenant may use; empty: every served model
 * @param priorityClass strict priority for the replicas' batch schedulers (higher first)
 * @param weight        fair-share weight among tenants of one priority class, &gt; 0
 */
public record TenantSpec(String id, Set<String> allowedModels, TenantLimits limits, int priorityClass, double weight,
                         List<ApiKeyRecord> keys) {
    static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public TenantSpec {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("tenant id \"" + id + "\" must match " + ID.pattern());
        }
        if (priorityClass < 0) {
            throw new IllegalArgumentException("tenant " + id + ": priority_class = " + priorityClass + " must be >= 0");
        }
        if (!(weight > 0) || Double.isInfinite(weight)) {
            throw new IllegalArgumentException("tenant " + id + ": weight = " + weight + " must be > 0");
        }
        allowedModels = Set.copyOf(new TreeSet<>(allowedModels));
        keys = List.copyOf(keys);
        Set<String> keyIds = new TreeSet<>();
        for (ApiKeyRecord k : keys) {
            if (!keyIds.add(k.keyId())) {
                throw new IllegalArgumentException("tenant " + id + ": key id \"" + k.keyId() + "\" appears twice");
            }
        }
    }

    public boolean allows(String model) {
        return allowedModels.isEmpty() || allowedModels.contains(model);
    }

    public Optional<ApiKeyRecord> key(String keyId) {
        return keys.stream().filter(k -> k.keyId().equals(keyId)).findFirst();
    }

    /** The same tenant with new settings and the keys kept. */
    TenantSpec withSettings(TenantSpec settings) {
        return new TenantSpec(id, settings.allowedModels, settings.limits, settings.priorityClass, settings.weight, keys);
    }

    TenantSpec withKey(ApiKeyRecord key) {
        List<ApiKeyRecord> k = new ArrayList<>(keys);
        k.removeIf(x -> x.keyId().equals(key.keyId()));
        k.add(key);
        return new TenantSpec(id, allowedModels, limits, priorityClass, weight, k);
    }
}
