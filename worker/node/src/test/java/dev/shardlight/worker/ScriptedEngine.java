package dev.shardlight.worker;

import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.TokenLogprobs;

import java.util.ArrayDeque;

/**
 * Test double of the engine for replica protocol tests: one sequence runs at a time (the others
 * wait in order); each step "generates" its token i+100 at step i when its reader has credit, as
 * the real scheduler hands tokens out (cancellation polled every step), and reports a fixed KV
 * size while a sequence runs. With logprobs asked for, step i's token has logprob -0.5 and
 * alternatives i+100, i+101, ... at -0.5, -1.5, ...
 */
final class ScriptedEngine implements ReplicaEngine {
    volatile int steps;
    private final ArrayDeque<Seq> waiting = new ArrayDeque<>();
    private Seq running;
    private volatile BatchScheduler.Stats stats = stats(0, 0);

    private record Seq(BatchScheduler.Request request, BatchScheduler.Sink sink, int[] produced) {
    }

    @Override
    public Info info() {
        return new Info("scripted", 64, 1000, "test-double");
    }

    @Override
    public String refusal(int promptTokens, int maxTokens) {
        return null;
    }

    @Override
    public void submit(BatchScheduler.Request request, BatchScheduler.Sink sink) {
        waiting.add(new Seq(request, sink, new int[1]));
        publish();
    }

    @Override
    public boolean step() {
        waiting.removeIf(s -> {
            if (s.sink().cancelled()) {
                s.sink().finished(result(s, BatchScheduler.Outcome.CANCELLED, 0));
                return true;
            }
            return false;
        });
        if (running != null && running.sink().cancelled()) {
            end(BatchScheduler.Outcome.CANCELLED);
        }
        if (running == null) {
            running = waiting.poll();
        }
        publish();
        if (running == null || !running.sink().ready()) {
            return false;
        }
        steps++;
        int n = running.produced()[0]++;
        int logprobs = running.request().logprobs();
        running.sink().token(100 + n, logprobs < 0 ? null : logprobs(100 + n, logprobs));
        if (n + 1 == running.request().maxTokens()) {
            end(BatchScheduler.Outcome.LENGTH);
        }
        publish();
        return true;
    }

    private void end(BatchScheduler.Outcome outcome) {
        Seq s = running;
        running = null;
        publish();
        s.sink().finished(result(s, outcome, 1));
    }

    private static BatchScheduler.Result result(Seq s, BatchScheduler.Outcome outcome, long queueNanos) {
        return new BatchScheduler.Result(outcome, s.request().prompt().length, 0, s.produced()[0], queueNanos, "");
    }

    @Override
    public boolean busy() {
        return running != null || !waiting.isEmpty();
    }

    private void publish() {
        stats = stats(running == null ? 0 : 1, waiting.size());
    }

    private static BatchScheduler.Stats stats(int running, int waiting) {
        return new BatchScheduler.Stats(running, waiting, 1, 1 - running, 0, 4096, 0, 0, 0, 0, 0, running, running);
    }

    @Override
    public BatchScheduler.Stats stats() {
        return stats;
    }

    static TokenLogprobs logprobs(int token, int topN) {
        int[] ids = new int[topN];
        float[] lps = new float[topN];
        for (int k = 0; k < topN; k++) {
            ids[k] = token + k;
            lps[k] = -0.5f - k;
        }
        return new TokenLogprobs(token, -0.5f, ids, lps);
    }
}
