package dev.shardlight.router;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplicaPlacementTest {
    static final long MB = 1 << 20;
    /** gemma replicas need 300 MB, llama replicas 500 MB. */
    final ReplicaPlacement placement = new ReplicaPlacement(r -> r.startsWith("gemma#") ? 300 * MB : 500 * MB);

    static ReplicaPlacement.Worker worker(String address, long memoryMb, String... replicas) {
        return new ReplicaPlacement.Worker(address, WorkerCapacity.ofMegabytes(memoryMb, "cpu"), new ArrayList<>(List.of(replicas)));
    }

    @Test
    void aReplicaNeverLandsOnAWorkerWithoutRoomForIt() {
        var small = worker("a:1", 400);
        var full = worker("b:1", 1000, "llama#0", "gemma#0");
        assertEquals(Optional.empty(), placement.place("llama#1", List.of(small, full)));
        assertEquals("a:1", placement.place("gemma#1", List.of(small, full)).orElseThrow().address());
    }

    @Test
    void replicasOfOneModelSpreadOverWorkersEvenWhenAnotherHasMoreRoom() {
        var big = worker("a:1", 4000, "gemma#0");
        var small = worker("b:1", 400);
        assertEquals("b:1", placement.place("gemma#1", List.of(big, small)).orElseThrow().address());
    }

    @Test
    void withNoSpreadToGainTheWorkerWithMostFreeMemoryWins() {
        var a = worker("a:1", 1000, "llama#0");
        var b = worker("b:1", 1000);
        assertEquals("b:1", placement.place("gemma#0", List.of(a, b)).orElseThrow().address());
        // Both hold gemma already: doubling up is allowed where there is room.
        var c = worker("a:1", 2000, "gemma#0");
        var d = worker("b:1", 1000, "gemma#1");
        assertEquals("a:1", placement.place("gemma#2", List.of(c, d)).orElseThrow().address());
    }

    @Test
    void capacityIsReadBackFromTheRolesAWorkerJoinsWith() {
        WorkerCapacity c = WorkerCapacity.ofMegabytes(8192, "cuda");
        assertEquals(c, WorkerCapacity.fromRoles(List.of("worker", "mem-mb-8192", "device-cuda")));
        assertEquals(0, WorkerCapacity.fromRoles(List.of("gateway")).memoryBytes());
    }

    @Test
    void rebalanceMovesADoubledUpReplicaToAReturnedWorkerOneAtATime() {
        var survivor = worker("a:1", 4000, "gemma#0", "gemma#1", "llama#0", "llama#1");
        var returned = worker("b:1", 4000);
        Optional<String> move = placement.rebalance(List.of(survivor, returned));
        assertTrue(move.isPresent());
        assertTrue(move.get().equals("gemma#0") || move.get().equals("gemma#1"), move.get());
        // Once every model is spread, nothing moves.
        var a = worker("a:1", 4000, "gemma#0", "llama#0");
        var b = worker("b:1", 4000, "gemma#1", "llama#1");
        assertEquals(Optional.empty(), placement.rebalance(List.of(a, b)));
        assertEquals(Map.of("a:1", List.of("gemma#0", "llama#0"), "b:1", List.of("gemma#1", "llama#1")),
                ReplicaPlacement.byAddress(List.of(a, b)));
    }

    @Test
    void rebalanceLeavesADoubledUpReplicaWhereNoOtherWorkerHasRoom() {
        var survivor = worker("a:1", 4000, "llama#0", "llama#1");
        var tiny = worker("b:1", 100);
        assertEquals(Optional.empty(), placement.rebalance(List.of(survivor, tiny)));
    }
}
