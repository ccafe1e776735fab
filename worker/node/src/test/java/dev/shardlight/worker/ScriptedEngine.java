package dev.shardlight.worker;

import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.engine.runtime.TokenLogprobs;

import java.util.function.BooleanSupplier;

/**
 * Test double of the engine for replica protocol tests: "generates" token i+100 at step i, as
 * the real {@link dev.shardlight.engine.runtime.Generator} does it (onToken, then the cancel poll
 * before the next step), and reports a fixed KV size while a sequence runs. With logprobs asked
 * for, step i's token has logprob -0.5 and alternatives i+100, i+101, ... at -0.5, -1.5, ...
 */
final class ScriptedEngine implements ReplicaEngine {
    volatile int steps;
    private volatile boolean running;

    @Override
    public Info info() {
        return new Info("scripted", 64, 1000, "test-double");
    }

    @Override
    public Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens, int logprobs,
                               Generator.TokenObserver onToken, BooleanSupplier cancelled) {
        running = true;
        try {
            int[] out = new int[maxTokens];
            int n = 0;
            var reason = Generation.FinishReason.LENGTH;
            while (n < maxTokens) {
                steps++;
                out[n] = 100 + n;
                onToken.onToken(out[n], logprobs < 0 ? null : logprobs(out[n], logprobs));
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

    static TokenLogprobs logprobs(int token, int topN) {
        int[] ids = new int[topN];
        float[] lps = new float[topN];
        for (int k = 0; k < topN; k++) {
            ids[k] = token + k;
            lps[k] = -0.5f - k;
        }
        return new TokenLogprobs(token, -0.5f, ids, lps);
    }

    @Override
    public long kvBytesInUse() {
        return running ? 4096 : 0;
    }
}
