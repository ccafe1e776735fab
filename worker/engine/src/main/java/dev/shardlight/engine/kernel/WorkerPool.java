package dev.shardlight.engine.kernel;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A fixed set of daemon threads, created once, that run the chunks {@code 0..count-1} of one job at
 * a time together with the calling thread. A decode step issues hundreds of short jobs (one
 * matvec takes tens of microseconds), so dispatch allocates nothing: the job is a caller-owned
 * {@link IntConsumer}, chunks are claimed from one atomic word and idle workers spin briefly before
 * parking.
 *
 * <p>Chunks are claimed dynamically rather than assigned per thread, so a worker that the OS has
 * descheduled (the machine may be shared with builds) costs nothing: the caller and the other
 * workers take its chunks. A job that arrives while another is running (a second model replica
 * sharing these kernels, or a task calling back into the pool) runs inline on its own thread
 * instead of waiting, which also rules out deadlock.
 */
final class WorkerPool implements AutoCloseable {

    /**
     * An idle or waiting thread spins this many times (tens of microseconds: the gap between two
     * matvecs of a decode step), then yields YIELDS times (on a machine with more runnable threads
     * than cores, the thread it waits for may need this core), then parks.
     */
    private static final int SPINS = 2_000;
    private static final int YIELDS = 50;

    private final Thread[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    /**
     * Generation in the high 32 bits, chunks not yet claimed in the low 32. Claiming decrements the
     * low half with a CAS that also checks the generation, so a worker that wakes late can never
     * claim a chunk of a job it has not read.
     */
    private final AtomicLong state = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile boolean closed;
    private IntConsumer job;
    private int chunks;
    private volatile Thread caller;
    private volatile Throwable failure;

    /** A pool that runs jobs on {@code threads} threads in all, the calling thread included. */
    WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads " + threads);
        }
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("shardlight-kernel-" + (i + 1)).unstarted(this::workLoop);
            workers[i].start();
        }
    }

    int threads() {
        return workers.length + 1;
    }

    /**
     * Runs {@code job.accept(i)} for i < count, on all threads, and returns when every chunk has
     * finished. Rethrows the first failure of any chunk.
     */
    void run(int count, IntConsumer job) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || workers.length == 0 || !busy.compareAndSet(false, true)) {
            for (int i = 0; i < count; i++) {
                job.accept(i);
            }
            return;
        }
        try {
            this.job = job;
            this.chunks = count;
            this.caller = Thread.currentThread();
            this.failure = null;
            done.set(0);
            long generation = (state.get() >>> 32) + 1;
            state.set(generation << 32 | count); // volatile write publishes job and chunks
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            claimAndRun();
            for (int idle = 0; done.get() < count; idle++) {
                backOff(idle);
            }
            Throwable t = failure;
            if (t != null) {
                if (t instanceof RuntimeException re) {
                    throw re;
                }
                if (t instanceof Error e) {
                    throw e;
                }
                throw new IllegalStateException(t);
            }
        } finally {
            this.job = null;
            this.caller = null;
            busy.set(false);
        }
    }

    /** Claims and runs chunks of the current job until none is left. */
    private void claimAndRun() {
        while (true) {
            long s = state.get();
            int left = (int) s;
            if (left <= 0) {
                return;
            }
            if (!state.compareAndSet(s, s - 1)) {
                continue;
            }
            // The claimed chunk keeps the job from completing, so job and chunks are still this generation's.
            int chunk = chunks - left;
            try {
                job.accept(chunk);
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                }
            }
            if (done.incrementAndGet() == chunks) {
                LockSupport.unpark(caller);
            }
        }
    }

    private void workLoop() {
        int idle = 0;
        while (!closed) {
            if ((int) state.get() > 0) {
                claimAndRun();
                idle = 0;
            } else {
                backOff(idle);
                idle = Math.min(idle + 1, SPINS + YIELDS);
            }
        }
    }

    private void backOff(int idle) {
        if (idle < SPINS) {
            Thread.onSpinWait();
        } else if (idle < SPINS + YIELDS) {
            Thread.yield();
        } else {
            LockSupport.park(this);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
