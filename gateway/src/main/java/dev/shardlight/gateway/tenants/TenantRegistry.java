package dev.shardlight.gateway.tenants;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import io.grpc.Status;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.LongSupplier;

/**
 * The tenants a gateway node knows: from configuration ({@code shardlight.tenants}, and the older
 * {@code shardlight.gateway.api-keys} map, whose tenants get no limits), changed at run time
 * through the admin API. Admin changes are kept in {@code <data-dir>/tenants.json} (written whole,
 * then renamed over the old file) and laid over the configuration at start: a tenant the admin
 * API created, changed or deleted stays that way even when the configuration says otherwise.
 *
 * <p>Reads take an immutable snapshot (one volatile read per call); changes are serialized.
 */
public final class TenantRegistry {
    /** The caller when no tenant has a key: authentication is off. */
    public static final String ANONYMOUS = "anonymous";
    static final String OVERLAY_FILE = "tenants.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the replicas' batch schedulers need to know about a request's tenant. */
    public record Scheduling(int priorityClass, double weight) {
        public static final Scheduling DEFAULT = new Scheduling(0, 1.0);
    }

    /** Who is calling: a tenant and, when authentication is on, the id of the key used. */
    public record Caller(String tenant, String keyId) {
    }

    private final Path overlayFile;
    private final LongSupplier clockMillis;
    private volatile Map<String, TenantSpec> tenants;
    private volatile boolean keysRequired;
    /** Ids of tenants the admin API created, changed or deleted (the overlay). */
    private final Set<String> touched = new TreeSet<>();

    TenantRegistry(Map<String, TenantSpec> configured, Path dataDir, LongSupplier clockMillis) {
        this.overlayFile = dataDir == null ? null : dataDir.resolve(OVERLAY_FILE);
        this.clockMillis = clockMillis;
        Map<String, TenantSpec> all = new TreeMap<>(configured);
        if (overlayFile != null && Files.exists(overlayFile)) {
            Overlay o = readOverlay(overlayFile);
            o.deleted().forEach(all::remove);
            o.tenants().forEach(t -> all.put(t.id(), t.toSpec()));
            touched.addAll(o.deleted());
            o.tenants().forEach(t -> touched.add(t.id()));
        }
        this.tenants = Map.copyOf(all);
        this.keysRequired = anyKeys(all);
    }

    private static boolean anyKeys(Map<String, TenantSpec> tenants) {
        return tenants.values().stream().anyMatch(t -> !t.keys().isEmpty());
    }

    /**
     * @param shardlight the {@code shardlight} section
     * @param dataDir    where admin changes are kept; null: in memory only
     */
    public static TenantRegistry fromConfig(Config shardlight, Path dataDir) {
        return new TenantRegistry(configured(shardlight, System.currentTimeMillis()), dataDir, System::currentTimeMillis);
    }

    static Map<String, TenantSpec> configured(Config s, long nowMillis) {
        Map<String, TenantSpec> out = new TreeMap<>();
        if (s.hasPath("tenants")) {
            ConfigObject tenants = s.getObject("tenants");
            for (String id : tenants.keySet()) {
                try {
                    out.put(id, tenantFromConfig(id, tenants.toConfig().getConfig("\"" + id + "\""), nowMillis));
                } catch (ConfigException | IllegalArgumentException e) {
                    throw new IllegalArgumentException("shardlight.tenants." + id + ": " + e.getMessage(), e);
                }
            }
        }
        if (s.hasPath("gateway.api-keys")) {
            // The older key -> tenant map: each key hashed at start, numbered in a stable order.
            Map<String, List<String>> keysByTenant = new TreeMap<>();
            for (Map.Entry<String, ConfigValue> e : s.getConfig("gateway.api-keys").entrySet()) {
                keysByTenant.computeIfAbsent(e.getValue().unwrapped().toString(), t -> new ArrayList<>()).add(unquote(e.getKey()));
            }
            keysByTenant.forEach((tenant, keys) -> {
                keys.sort((a, b) -> ApiKeys.hex(ApiKeys.hash(new byte[0], a)).compareTo(ApiKeys.hex(ApiKeys.hash(new byte[0], b))));
                TenantSpec t = out.getOrDefault(tenant, new TenantSpec(tenant, Set.of(), TenantLimits.NONE, 0, 1.0, List.of()));
                for (int i = 0; i < keys.size(); i++) {
                    String keyId = keys.size() == 1 ? "api-keys" : "api-keys-" + (i + 1);
                    t = t.withKey(ApiKeys.hashed(keyId, "shardlight.gateway.api-keys", keys.get(i), 0, 0, nowMillis));
                }
                out.put(tenant, t);
            });
        }
        return out;
    }

    private static TenantSpec tenantFromConfig(String id, Config c, long nowMillis) {
        TenantLimits limits = new TenantLimits(
                c.hasPath("requests-per-minute") ? c.getLong("requests-per-minute") : 0,
                c.hasPath("tokens-per-minute") ? c.getLong("tokens-per-minute") : 0,
                c.hasPath("max-concurrent-streams") ? c.getInt("max-concurrent-streams") : 0,
                c.hasPath("max-tokens-per-request") ? c.getInt("max-tokens-per-request") : 0);
        List<ApiKeyRecord> keys = new ArrayList<>();
        if (c.hasPath("keys")) {
            for (Config k : c.getConfigList("keys")) {
                String keyId = k.getString("id");
                long rpm = k.hasPath("requests-per-minute") ? k.getLong("requests-per-minute") : 0;
                long tpm = k.hasPath("tokens-per-minute") ? k.getLong("tokens-per-minute") : 0;
                String label = k.hasPath("label") ? k.getString("label") : "";
                if (k.hasPath("key") == (k.hasPath("sha256") || k.hasPath("salt"))) {
                    throw new IllegalArgumentException("key " + keyId + ": give either key or salt + sha256 (hex)");
                }
                if (k.hasPath("key")) {
                    if (k.getString("key").length() < 16) {
                        throw new IllegalArgumentException("key " + keyId + ": an API key needs at least 16 characters");
                    }
                    keys.add(ApiKeys.hashed(keyId, label, k.getString("key"), rpm, tpm, nowMillis));
                } else {
                    keys.add(new ApiKeyRecord(keyId, label, ApiKeys.unhex("key " + keyId + " salt", k.getString("salt")),
                            ApiKeys.unhex("key " + keyId + " sha256", k.getString("sha256")), nowMillis, 0, rpm, tpm));
                }
            }
        }
        return new TenantSpec(id, c.hasPath("allowed-models") ? new LinkedHashSet<>(c.getStringList("allowed-models")) : Set.of(),
                limits, c.hasPath("priority-class") ? c.getInt("priority-class") : 0,
                c.hasPath("weight") ? c.getDouble("weight") : 1.0, keys);
    }

    private static String unquote(String key) {
        return key.length() >= 2 && key.startsWith("\"") && key.endsWith("\"") ? key.substring(1, key.length() - 1) : key;
    }

    // ---- lookups (any thread) ----

    /** Whether callers must present a key: some tenant has one (live or revoked). */
    public boolean keysRequired() {
        return keysRequired;
    }

    public Optional<TenantSpec> get(String id) {
        return Optional.ofNullable(tenants.get(id));
    }

    public Collection<TenantSpec> list() {
        return new TreeMap<>(tenants).values();
    }

    /**
     * For the lead's fair scheduling: the priority class and weight to send with a request of this
     * tenant to a replica ({@link Scheduling#DEFAULT} for an unknown tenant, e.g. anonymous).
     */
    public Scheduling schedulingOf(String tenantId) {
        TenantSpec t = tenants.get(tenantId);
        return t == null ? Scheduling.DEFAULT : new Scheduling(t.priorityClass(), t.weight());
    }

    /** The outcome of checking a presented key. */
    public sealed interface Authentication {
    }

    public record Authenticated(Caller caller) implements Authentication {
    }

    public record Revoked(String tenant, String keyId) implements Authentication {
    }

    public enum Unknown implements Authentication { INSTANCE }

    public Authentication authenticate(String key) {
        Map<String, TenantSpec> snapshot = tenants;
        String id = ApiKeys.idOf(key);
        if (id != null) {
            for (TenantSpec t : snapshot.values()) {
                Optional<ApiKeyRecord> k = t.key(id);
                if (k.isPresent() && ApiKeys.matches(k.get(), key)) {
                    return outcome(t, k.get());
                }
            }
        }
        // Keys written into configuration may be any string: check it against every stored hash.
        for (TenantSpec t : snapshot.values()) {
            for (ApiKeyRecord k : t.keys()) {
                if (ApiKeys.matches(k, key)) {
                    return outcome(t, k);
                }
            }
        }
        return Unknown.INSTANCE;
    }

    private static Authentication outcome(TenantSpec t, ApiKeyRecord k) {
        return k.revoked() ? new Revoked(t.id(), k.keyId()) : new Authenticated(new Caller(t.id(), k.keyId()));
    }

    // ---- changes (admin API) ----

    public synchronized TenantSpec create(TenantSpec settings) {
        if (tenants.containsKey(settings.id())) {
            throw Status.ALREADY_EXISTS.withDescription("tenant " + settings.id() + " exists").asRuntimeException();
        }
        TenantSpec t = new TenantSpec(settings.id(), settings.allowedModels(), settings.limits(), settings.priorityClass(),
                settings.weight(), List.of());
        return put(t);
    }

    public synchronized TenantSpec update(TenantSpec settings) {
        return put(existing(settings.id()).withSettings(settings));
    }

    public synchronized void delete(String id) {
        existing(id);
        Map<String, TenantSpec> next = new TreeMap<>(tenants);
        next.remove(id);
        publish(next, id);
    }

    public synchronized ApiKeys.Made addKey(String tenant, String label, long requestsPerMinute, long tokensPerMinute) {
        TenantSpec t = existing(tenant);
        if (requestsPerMinute < 0 || tokensPerMinute < 0) {
            throw Status.INVALID_ARGUMENT.withDescription("key limits must be >= 0 (0 = only the tenant's)").asRuntimeException();
        }
        ApiKeys.Made made = ApiKeys.make(label, requestsPerMinute, tokensPerMinute, clockMillis.getAsLong());
        put(t.withKey(made.record()));
        return made;
    }

    public synchronized ApiKeyRecord revokeKey(String tenant, String keyId) {
        TenantSpec t = existing(tenant);
        ApiKeyRecord k = t.key(keyId).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("tenant " + tenant + " has no API key " + keyId).asRuntimeException());
        if (k.revoked()) {
            return k;
        }
        ApiKeyRecord revoked = k.revokedAt(clockMillis.getAsLong());
        put(t.withKey(revoked));
        return revoked;
    }

    private TenantSpec existing(String id) {
        TenantSpec t = tenants.get(id);
        if (t == null) {
            throw Status.NOT_FOUND.withDescription("no tenant " + id).asRuntimeException();
        }
        return t;
    }

    private TenantSpec put(TenantSpec t) {
        Map<String, TenantSpec> next = new TreeMap<>(tenants);
        next.put(t.id(), t);
        publish(next, t.id());
        return t;
    }

    /** Writes the overlay first: a change that could not be kept is not made. */
    private void publish(Map<String, TenantSpec> next, String changed) {
        Set<String> nextTouched = new TreeSet<>(touched);
        nextTouched.add(changed);
        if (overlayFile != null) {
            List<StoredTenant> kept = new ArrayList<>();
            List<String> deleted = new ArrayList<>();
            for (String id : nextTouched) {
                TenantSpec t = next.get(id);
                if (t == null) {
                    deleted.add(id);
                } else {
                    kept.add(StoredTenant.of(t));
                }
            }
            writeOverlay(overlayFile, new Overlay(kept, deleted));
        }
        touched.add(changed);
        tenants = Map.copyOf(next);
        keysRequired = anyKeys(next);
    }

    // ---- the overlay file ----

    record StoredKey(String keyId, String label, String salt, String sha256, long created, long revoked,
                     long requestsPerMinute, long tokensPerMinute) {
        static StoredKey of(ApiKeyRecord k) {
            return new StoredKey(k.keyId(), k.label(), ApiKeys.hex(k.salt()), ApiKeys.hex(k.hash()), k.createdMillis(),
                    k.revokedMillis(), k.requestsPerMinute(), k.tokensPerMinute());
        }

        ApiKeyRecord toRecord() {
            return new ApiKeyRecord(keyId, label, ApiKeys.unhex("salt", salt), ApiKeys.unhex("sha256", sha256), created,
                    revoked, requestsPerMinute, tokensPerMinute);
        }
    }

    record StoredTenant(String id, List<String> allowedModels, long requestsPerMinute, long tokensPerMinute,
                        int maxConcurrentStreams, int maxTokensPerRequest, int priorityClass, double weight,
                        List<StoredKey> keys) {
        static StoredTenant of(TenantSpec t) {
            TenantLimits l = t.limits();
            return new StoredTenant(t.id(), List.copyOf(new TreeSet<>(t.allowedModels())), l.requestsPerMinute(),
                    l.tokensPerMinute(), l.maxConcurrentStreams(), l.maxTokensPerRequest(), t.priorityClass(), t.weight(),
                    t.keys().stream().map(StoredKey::of).toList());
        }

        TenantSpec toSpec() {
            return new TenantSpec(id, Set.copyOf(allowedModels), new TenantLimits(requestsPerMinute, tokensPerMinute,
                    maxConcurrentStreams, maxTokensPerRequest), priorityClass, weight,
                    keys.stream().map(StoredKey::toRecord).toList());
        }
    }

    record Overlay(List<StoredTenant> tenants, List<String> deleted) {
    }

    private static Overlay readOverlay(Path file) {
        try {
            return JSON.readValue(file.toFile(), Overlay.class);
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException("cannot read the tenant registry's admin changes from " + file + ": " + e.getMessage(), e);
        }
    }

    private static void writeOverlay(Path file, Overlay overlay) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.getParent());
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(overlay));
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the tenant registry change in " + file + ": " + e.getMessage(), e);
        }
    }
}
