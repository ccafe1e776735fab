package dev.shardlight.engine.kernel;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class WorkerPoolTest {

    @Test
    void jobsFromTwoCallersAtOnceBothRunEveryChunkOnce() throws InterruptedException {
        try (WorkerPool pool = new WorkerPool(3)) {
            int rounds = 2000;
            AtomicIntegerArray[] seen = {new AtomicIntegerArray(rounds * 16), new AtomicIntegerArray(rounds * 16)};
            AtomicReference<Throwable> failure = new AtomicReference<>();
            CountDownLatch start = new CountDownLatch(1);
            Thread[] callers = new Thread[2];
            for (int c = 0; c < 2; c++) {
                AtomicIntegerArray mine = seen[c];
                callers[c] = new Thread(() -> {
                    try {
                        start.await();
                        for (int r = 0; r < rounds; r++) {
                            int base = r * 16;
                            pool.run(16, i -> mine.incrementAndGet(base + i));
                        }
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                callers[c].start();
            }
            start.countDown();
            for (Thread t : callers) {
                t.join();
            }
            assertNull(failure.get());
            for (AtomicIntegerArray s : seen) {
                for (int i = 0; i < s.length(); i++) {
                    assertEquals(1, s.get(i), "chunk " + i);
                }
            }
        }
    }

    @Test
    void aJobStartedFromInsideAChunkRunsInlineInsteadOfDeadlocking() {
        try (WorkerPool pool = new WorkerPool(2)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(4 * 5);
            pool.run(4, outer -> pool.run(5, inner -> seen.incrementAndGet(outer * 5 + inner)));
            for (int i = 0; i < seen.length(); i++) {
                assertEquals(1, seen.get(i));
            }
        }
    }
}
