package dev.shardlight.gateway.tenants;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class TokenBucketTest {
    static final long SECOND = 1_000_000_000L;

    @Test
    void startsFullRefillsEvenlyAndSaysHowLongUntilEnough() {
        TokenBucket b = new TokenBucket(60, 0); // one per second
        assertEquals(0, b.nanosUntil(60, 0));
        b.take(60, 0);
        assertEquals(SECOND, b.nanosUntil(1, 0));
        assertEquals(10 * SECOND, b.nanosUntil(10, 0));
        assertEquals(0, b.nanosUntil(10, 10 * SECOND));
        assertEquals(60.0, b.level(3600 * SECOND), 1e-9, "never above the capacity");
    }

    @Test
    void givingBackIsCappedAndResizingKeepsWhatIsThere() {
        TokenBucket b = new TokenBucket(100, 0);
        b.take(80, 0);
        b.give(50, 0);
        assertEquals(70.0, b.level(0), 1e-9);
        b.give(500, 0);
        assertEquals(100.0, b.level(0), 1e-9);
        b.resize(10, 0);
        assertEquals(10.0, b.level(0), 1e-9);
        b.resize(1000, 0);
        assertEquals(10.0, b.level(0), 1e-9);
    }
}
