package dev.shardlight.gateway.tenants;

/**
 * A token bucket holding up to {@code perMinute} units, refilled evenly at {@code perMinute} per
 * minute and starting full, so a tenant may burst its whole minute's allowance and then goes at the
 * refill rate. Not thread-safe: {@link Admission} guards each tenant's buckets with one lock so
 * several buckets are checked and charged together.
 */
final class TokenBucket {
    private static final double NANOS_PER_MINUTE = 60e9;

    private long capacity;
    private double level;
    private long lastNanos;

    TokenBucket(long perMinute, long nowNanos) {
        this.capacity = perMinute;
        this.level = perMinute;
        this.lastNanos = nowNanos;
    }

    long capacity() {
        return capacity;
    }

    /** A new limit keeps what is in the bucket, up to the new capacity. */
    void resize(long perMinute, long nowNanos) {
        refill(nowNanos);
        capacity = perMinute;
        level = Math.min(level, perMinute);
    }

    /** Nanoseconds until {@code units} are in the bucket; 0 when they are now. */
    long nanosUntil(long units, long nowNanos) {
        refill(nowNanos);
        double missing = units - level;
        return missing <= 0 ? 0 : (long) Math.ceil(missing * NANOS_PER_MINUTE / capacity);
    }

    void take(long units, long nowNanos) {
        refill(nowNanos);
        level -= units;
    }

    /** Returns units charged but not used (never above the capacity). */
    void give(long units, long nowNanos) {
        refill(nowNanos);
        level = Math.min(capacity, level + units);
    }

    double level(long nowNanos) {
        refill(nowNanos);
        return level;
    }

    private void refill(long nowNanos) {
        long elapsed = nowNanos - lastNanos;
        if (elapsed > 0) {
            level = Math.min(capacity, level + elapsed * capacity / NANOS_PER_MINUTE);
            lastNanos = nowNanos;
        }
    }
}
