package dev.shardlight.router;

import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * What a worker node offers replicas: a memory budget and a device. Declared at start-up
 * ({@code shardlight.worker.memory-mb}, {@code shardlight.worker.device}) and published as cluster
 * roles ({@code mem-mb-8192}, {@code device-cpu}), so every node, the shard coordinator included,
 * reads every worker's capacity from cluster membership without another protocol.
 */
public record WorkerCapacity(long memoryBytes, String device) {
    static final String MEMORY_PREFIX = "mem-mb-";
    static final String DEVICE_PREFIX = "device-";

    public static WorkerCapacity ofMegabytes(long memoryMb, String device) {
        return new WorkerCapacity(memoryMb << 20, device);
    }

    /** The roles a worker node joins with to announce this capacity. */
    public Set<String> roles() {
        Set<String> roles = new LinkedHashSet<>();
        roles.add(MEMORY_PREFIX + (memoryBytes >> 20));
        roles.add(DEVICE_PREFIX + device);
        return roles;
    }

    /** Reads the capacity from a member's roles; a worker that declared none offers no memory. */
    public static WorkerCapacity fromRoles(Collection<String> roles) {
        long mb = 0;
        String device = "cpu";
        for (String r : roles) {
            if (r.startsWith(MEMORY_PREFIX)) {
                mb = Long.parseLong(r.substring(MEMORY_PREFIX.length()));
            } else if (r.startsWith(DEVICE_PREFIX)) {
                device = r.substring(DEVICE_PREFIX.length());
            }
        }
        return ofMegabytes(mb, device);
    }
}
