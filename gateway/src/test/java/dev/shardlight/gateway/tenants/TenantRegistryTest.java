package dev.shardlight.gateway.tenants;

import com.typesafe.config.ConfigFactory;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TenantRegistryTest {
    static final String CONFIG = """
            tenants {
              acme {
                allowed-models = [tiny]
                requests-per-minute = 60
                tokens-per-minute = 1000
                max-concurrent-streams = 2
                max-tokens-per-request = 64
                priority-class = 2
                weight = 3.5
                keys = [ { id = "ci", key = "acme-ci-key-0123456789", requests-per-minute = 5 } ]
              }
            }
            gateway.api-keys { "legacy-key-0123456789" = "old-team", "another-legacy-key-01" = "old-team" }
            """;

    static TenantRegistry registry(Path dir) {
        return new TenantRegistry(TenantRegistry.configured(ConfigFactory.parseString(CONFIG), 0), dir, () -> 42_000);
    }

    @Test
    void configuredTenantsAndTheOlderKeyMapBothAuthenticate() {
        TenantRegistry r = registry(null);
        TenantSpec acme = r.get("acme").orElseThrow();
        assertEquals(Set.of("tiny"), acme.allowedModels());
        assertEquals(new TenantLimits(60, 1000, 2, 64), acme.limits());
        assertEquals(new TenantRegistry.Scheduling(2, 3.5), r.schedulingOf("acme"));
        assertEquals(TenantRegistry.Scheduling.DEFAULT, r.schedulingOf("nobody"));
        assertEquals(new TenantRegistry.Authenticated(new TenantRegistry.Caller("acme", "ci")), r.authenticate("acme-ci-key-0123456789"));
        assertEquals("old-team", ((TenantRegistry.Authenticated) r.authenticate("legacy-key-0123456789")).caller().tenant());
        assertEquals(Set.of("api-keys-1", "api-keys-2"), Set.copyOf(r.get("old-team").orElseThrow().keys().stream()
                .map(ApiKeyRecord::keyId).toList()));
        assertEquals(TenantLimits.NONE, r.get("old-team").orElseThrow().limits());
        assertEquals(TenantRegistry.Unknown.INSTANCE, r.authenticate("acme-ci-key-012345678"));
        assertTrue(r.keysRequired());
        assertFalse(acme.keys().get(0).toString().contains("acme-ci-key"), "a key record never prints a key");
    }

    @Test
    void badConfigurationNamesTheTenantAndField() {
        var e = assertThrows(IllegalArgumentException.class, () -> TenantRegistry.configured(ConfigFactory.parseString(
                "tenants { acme { weight = 0 } }"), 0));
        assertEquals("shardlight.tenants.acme: tenant acme: weight = 0.0 must be > 0", e.getMessage());
        var short_ = assertThrows(IllegalArgumentException.class, () -> TenantRegistry.configured(ConfigFactory.parseString(
                "tenants { acme { keys = [ { id = k, key = short } ] } }"), 0));
        assertEquals("shardlight.tenants.acme: key k: an API key needs at least 16 characters", short_.getMessage());
    }

    @Test
    void madeKeysRotateAndRevokeAndAdminChangesSurviveAReopen(@TempDir Path dir) {
        TenantRegistry r = registry(dir);
        r.create(new TenantSpec("beta", Set.of(), new TenantLimits(10, 0, 1, 0), 1, 2, List.of()));
        ApiKeys.Made first = r.addKey("beta", "first", 0, 0);
        ApiKeys.Made second = r.addKey("beta", "second", 3, 0);
        assertTrue(first.key().startsWith("sl_" + first.record().keyId() + "_"));
        assertEquals(new TenantRegistry.Caller("beta", first.record().keyId()),
                ((TenantRegistry.Authenticated) r.authenticate(first.key())).caller());
        r.revokeKey("beta", first.record().keyId());
        assertEquals(new TenantRegistry.Revoked("beta", first.record().keyId()), r.authenticate(first.key()));
        assertInstanceOf(TenantRegistry.Authenticated.class, r.authenticate(second.key()));
        r.delete("acme");
        r.update(new TenantSpec("old-team", Set.of("tiny"), TenantLimits.NONE, 0, 1, List.of()));

        String stored = readString(dir.resolve(TenantRegistry.OVERLAY_FILE));
        assertFalse(stored.contains(first.key()) || stored.contains(second.key()), "only hashes are stored");

        TenantRegistry reopened = registry(dir);
        assertEquals(new TenantRegistry.Revoked("beta", first.record().keyId()), reopened.authenticate(first.key()));
        assertEquals(new TenantRegistry.Caller("beta", second.record().keyId()),
                ((TenantRegistry.Authenticated) reopened.authenticate(second.key())).caller());
        assertTrue(reopened.get("acme").isEmpty(), "deleted through the admin API stays deleted although configured");
        assertEquals(TenantRegistry.Unknown.INSTANCE, reopened.authenticate("acme-ci-key-0123456789"));
        assertEquals(Set.of("tiny"), reopened.get("old-team").orElseThrow().allowedModels());
        assertInstanceOf(TenantRegistry.Authenticated.class, reopened.authenticate("legacy-key-0123456789"), "update keeps keys");
        assertEquals(new TenantRegistry.Scheduling(1, 2), reopened.schedulingOf("beta"));
    }

    @Test
    void changesToWhatDoesNotExistAreNotFoundAndDuplicatesAlreadyExist() {
        TenantRegistry r = registry(null);
        assertEquals(Status.Code.ALREADY_EXISTS, assertThrows(StatusRuntimeException.class, () -> r.create(
                new TenantSpec("acme", Set.of(), TenantLimits.NONE, 0, 1, List.of()))).getStatus().getCode());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> r.revokeKey("acme", "nope"));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertEquals("tenant acme has no API key nope", e.getStatus().getDescription());
        assertEquals("no tenant ghost", assertThrows(StatusRuntimeException.class, () -> r.addKey("ghost", "", 0, 0))
                .getStatus().getDescription());
    }

    private static String readString(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
