package dev.shardlight.worker;

import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.SamplingParams;

import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * Test double of the engine for replica protocol tests: "generates" token i+100 at step i, as
 * the real {@link dev.shardlight.engine.runtime.Generator} does it (onToken, then the cancel poll
 * before the next step), and reports a fixed KV size while a sequence runs.
 */
final class ScriptedEngine implements ReplicaEngine {
    volatile int steps;
    private volatile boolean running;

    @Override
    public Info info() {
        return new Info("scripted", 64, 1000, "test-double");
    }

    @Override
    public Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens,
                               IntConsumer onToken, BooleanSupplier cancelled) {
        running = true;
        try {
            int[] out = new int[maxTokens];
            int n = 0;
            var reason = Generation.FinishReason.LENGTH;
            while (n < maxTokens) {
                steps++;
                out[n] = 100 + n;
                onToken.accept(out[n]);
                n++;
                if (n < maxTokens && cancelled.getAsBoolean()) {
                    reason = Generation.FinishReason.CANCELLED;
                    break;
                }
            }
            return new Generation(prompt, java.util.Arrays.copyOf(out, n), reason, 0, 0);
        } finally {
            running = false;
        }
    }

    @Override
    public long kvBytesInUse() {
        return running ? 4096 : 0;
    }
}
