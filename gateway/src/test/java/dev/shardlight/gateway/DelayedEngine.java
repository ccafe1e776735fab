package dev.shardlight.gateway;

import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.LabelScorer;
import dev.shardlight.worker.ReplicaEngine;

import java.util.function.LongSupplier;

/**
 * The real engine with extra time per batched step and per label scoring, so a tiny fixture model
 * behaves like a big one on the replica's engine thread (scheduling tests) without the cost of
 * one. The delays are read at each call. Other tests extend it to change one call and delegate the rest.
 */
public class DelayedEngine implements ReplicaEngine {
    private final ReplicaEngine real;
    private final LongSupplier stepMillis;
    private final LongSupplier scoreMillis;

    public DelayedEngine(ReplicaEngine real, LongSupplier stepMillis, LongSupplier scoreMillis) {
        this.real = real;
        this.stepMillis = stepMillis;
        this.scoreMillis = scoreMillis;
    }

    private static void sleep(long millis) {
        if (millis > 0) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public Info info() {
        return real.info();
    }

    @Override
    public String refusal(int promptTokens, int maxTokens) {
        return real.refusal(promptTokens, maxTokens);
    }

    @Override
    public void submit(BatchScheduler.Request request, BatchScheduler.Sink sink) {
        real.submit(request, sink);
    }

    @Override
    public boolean step() {
        boolean ran = real.step();
        if (ran) {
            sleep(stepMillis.getAsLong());
        }
        return ran;
    }

    @Override
    public boolean busy() {
        return real.busy();
    }

    @Override
    public BatchScheduler.Stats stats() {
        return real.stats();
    }

    @Override
    public LabelScorer.Scores score(int[] prompt, int[][] labels) {
        sleep(scoreMillis.getAsLong());
        return real.score(prompt, labels);
    }

    @Override
    public void close() {
        real.close();
    }
}
