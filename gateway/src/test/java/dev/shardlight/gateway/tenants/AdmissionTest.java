package dev.shardlight.gateway.tenants;

import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.protobuf.StatusProto;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Admission decisions on a hand-driven clock (the gRPC path is in the gateway's Tenant*Test). */
class AdmissionTest {
    static final long SECOND = 1_000_000_000L;
    final AtomicLong now = new AtomicLong(5 * SECOND);
    final List<String> refusals = new ArrayList<>();
    final List<UsageLedger.Total> served = new ArrayList<>();
    TenantRegistry registry;
    Admission admission;
    UsageLedger ledger;

    void setUp(TenantLimits limits, long keyRpm, long keyTpm) throws Exception {
        ApiKeyRecord key = ApiKeys.hashed("k1", "", "key-of-acme-0123456789", keyRpm, keyTpm, 0);
        registry = new TenantRegistry(java.util.Map.of("acme", new TenantSpec("acme", Set.of("tiny"), limits, 0, 1,
                List.of(key))), null, () -> 0);
        ledger = new UsageLedger(null, (t, k, m, r, p, c, x) -> served.add(new UsageLedger.Total(t, k, m, r, p, c, x)));
        admission = new Admission(registry, ledger, (t, l) -> refusals.add(t + ":" + l), now::get, () -> 120_000);
    }

    static final TenantRegistry.Caller ACME = new TenantRegistry.Caller("acme", "k1");

    static long retryMillis(StatusException e) throws Exception {
        var details = StatusProto.fromThrowable(e).getDetailsList();
        assertEquals(1, details.size());
        var d = details.get(0).unpack(RetryInfo.class).getRetryDelay();
        return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
    }

    @Test
    void requestsPerMinuteRefusesWithTheWaitUntilTheNextRequestFits() throws Exception {
        setUp(new TenantLimits(2, 0, 0, 0), 0, 0);
        admission.admit(ACME, "tiny", 3, 4).end(3, 4, 0);
        admission.admit(ACME, "tiny", 3, 4).end(3, 4, 0);
        StatusException e = assertThrows(StatusException.class, () -> admission.admit(ACME, "tiny", 3, 4));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertEquals("tenant acme: requests-per-minute limit (2) reached; retry in 30.0 s", e.getStatus().getDescription());
        assertEquals(30_000, retryMillis(e));
        assertEquals(List.of("acme:requests-per-minute"), refusals);
        now.addAndGet(30 * SECOND);
        assertDoesNotThrow(() -> admission.admit(ACME, "tiny", 3, 4));
    }

    @Test
    void tokensAreChargedPromptPlusMaxTokensAndTheUnservedPartIsRefunded() throws Exception {
        setUp(new TenantLimits(0, 100, 0, 0), 0, 0);
        Admission.Lease a = admission.admit(ACME, "tiny", 10, 80); // 90 of 100 charged
        StatusException e = assertThrows(StatusException.class, () -> admission.admit(ACME, "tiny", 10, 10));
        assertEquals("tenant acme: tokens-per-minute limit (100) reached; retry in 6.0 s", e.getStatus().getDescription());
        assertEquals(6_000, retryMillis(e), "10 left, 20 needed, 100 per minute: 6 s");
        a.end(10, 5, 0); // 75 of max_tokens unused: refunded
        assertDoesNotThrow(() -> admission.admit(ACME, "tiny", 10, 70));
        assertEquals(List.of(new UsageLedger.Total("acme", "k1", "tiny", 1, 10, 5, 0)), served);
        assertEquals(List.of(new UsageLedger.Total("acme", "k1", "tiny", 1, 10, 5, 0)), ledger.totalsSince(0, "acme"));
        StatusException never = assertThrows(StatusException.class, () -> admission.admit(ACME, "tiny", 50, 51));
        assertEquals(Status.Code.INVALID_ARGUMENT, never.getStatus().getCode());
        assertEquals("prompt (50 tokens) + max_tokens (51) = 101 exceeds the tokens-per-minute limit of tenant acme (100), "
                + "so it can never be admitted; lower max_tokens", never.getStatus().getDescription());
    }

    @Test
    void concurrentStreamsAreReleasedOnceHoweverTheStreamEnds() throws Exception {
        setUp(new TenantLimits(0, 0, 1, 0), 0, 0);
        Admission.Lease a = admission.admit(ACME, "tiny", 1, 1);
        StatusException e = assertThrows(StatusException.class, () -> admission.admit(ACME, "tiny", 1, 1));
        assertEquals("tenant acme: max-concurrent-streams limit (1) reached, 1 streams open; retry in 1.0 s",
                e.getStatus().getDescription());
        a.end(0, 0, 0);
        a.end(0, 0, 0); // a second end (e.g. PostStop after the normal end) changes nothing
        Admission.Lease b = admission.admit(ACME, "tiny", 1, 1);
        assertThrows(StatusException.class, () -> admission.admit(ACME, "tiny", 1, 1));
        b.end(1, 1, 0);
        assertEquals(List.of(new UsageLedger.Total("acme", "k1", "tiny", 1, 1, 1, 0)), served, "a stream that served nothing is not metered");
    }

    @Test
    void aKeysOwnLimitAppliesOnTopOfTheTenantsAndARefusalChargesNothing() throws Exception {
        setUp(new TenantLimits(10, 1000, 0, 0), 1, 0);
        admission.admit(ACME, "tiny", 1, 1);
        StatusException e = assertThrows(StatusException.class, () -> admission.admit(ACME, "tiny", 1, 1));
        assertEquals("API key k1 of tenant acme: requests-per-minute limit (1) reached; retry in 60.0 s",
                e.getStatus().getDescription());
        // the tenant's bucket was not charged by the refusal: 9 of 10 left for another caller of the tenant
        TenantRegistry.Caller other = new TenantRegistry.Caller("acme", null);
        for (int i = 0; i < 9; i++) {
            admission.admit(other, "tiny", 1, 1);
        }
        assertEquals("tenant acme: requests-per-minute limit (10) reached; retry in 6.0 s",
                assertThrows(StatusException.class, () -> admission.admit(other, "tiny", 1, 1)).getStatus().getDescription());
    }

    @Test
    void modelPermissionAndMaxTokensPerRequestAreCheckedBeforeTheRest() throws Exception {
        setUp(new TenantLimits(0, 0, 0, 64), 0, 0);
        StatusException denied = assertThrows(StatusException.class, () -> admission.precheck(ACME, "big", 8));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
        assertEquals("tenant acme may not use model \"big\"; allowed: tiny", denied.getStatus().getDescription());
        StatusException tooMany = assertThrows(StatusException.class, () -> admission.precheck(ACME, "tiny", 65));
        assertEquals(Status.Code.INVALID_ARGUMENT, tooMany.getStatus().getCode());
        assertEquals("max_tokens = 65 exceeds the max-tokens-per-request limit of tenant acme (64)", tooMany.getStatus().getDescription());
        assertEquals(64, admission.precheck(ACME, "tiny", 64));
        assertEquals(List.of("acme:allowed-models", "acme:max-tokens-per-request"), refusals);
    }
}
