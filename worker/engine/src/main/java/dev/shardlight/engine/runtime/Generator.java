package dev.shardlight.engine.runtime;

import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * Runs one sequence to completion on a forward pass: prefill the prompt as a batch, then decode
 * token by token until a stop token, {@code maxTokens}, or cancellation.
 */
public final class Generator {
    private final ForwardPass forward;

    public Generator(ForwardPass forward) {
        this.forward = forward;
    }

    /**
     * @param prompt     token ids (BOS included if the model wants one)
     * @param maxTokens  upper bound of generated tokens
     * @param stopTokens extra ids that end generation (the model's own EOS ids always do)
     * @param onToken    called with each generated token as soon as it is chosen
     * @param cancelled  polled before every decode step
     */
    public Generation generate(int[] prompt, int maxTokens, SamplingParams params, int[] stopTokens,
                               IntConsumer onToken, BooleanSupplier cancelled) {
        return generate(prompt, maxTokens, params, stopTokens, -1,
                onToken == null ? null : (token, lp) -> onToken.accept(token), cancelled);
    }

    /** Receives each generated token, with its logprobs when they were asked for (else null). */
    @FunctionalInterface
    public interface TokenObserver {
        void onToken(int token, TokenLogprobs logprobs);
    }

    /**
     * As above; with {@code logprobs >= 0}, each token comes with its log-probability and the
     * {@code logprobs} most likely alternatives at that step (raw model distribution).
     */
    public Generation generate(int[] prompt, int maxTokens, SamplingParams params, int[] stopTokens,
                               int logprobs, TokenObserver onToken, BooleanSupplier cancelled) {
        var c = forward.config();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt is empty; at least one token (e.g. BOS) is needed");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens = " + maxTokens + " must be >= 1");
        }
        int total = prompt.length + maxTokens;
        if (total > c.contextLength()) {
            throw new IllegalArgumentException("prompt (" + prompt.length + " tokens) + max_tokens (" + maxTokens
                    + ") = " + total + " exceeds the model's context of " + c.contextLength());
        }
        KvCache cache = forward.newCache(total);
        Sampler sampler = new Sampler(params, c.vocab());
        sampler.observePrompt(prompt, 0, prompt.length);
        float[] logits = new float[c.vocab()];
        int[] out = new int[maxTokens];
        int produced = 0;
        Generation.FinishReason reason = Generation.FinishReason.LENGTH;

        long t0 = System.nanoTime();
        float[] raw = logprobs >= 0 ? new float[c.vocab()] : null;
        forward.forward(cache, prompt, 0, prompt.length, logits, false);
        int next = sample(sampler, logits, raw);
        long t1 = System.nanoTime();
        int[] one = new int[1];
        while (true) {
            out[produced++] = next;
            sampler.accept(next);
            if (onToken != null) {
                onToken.onToken(next, raw == null ? null : TokenLogprobs.of(raw, 0, c.vocab(), next, logprobs));
            }
            if (c.isStop(next) || contains(stopTokens, next)) {
                reason = Generation.FinishReason.STOP;
                break;
            }
            if (produced == maxTokens) {
                break;
            }
            if (cancelled != null && cancelled.getAsBoolean()) {
                reason = Generation.FinishReason.CANCELLED;
                break;
            }
            one[0] = next;
            forward.forward(cache, one, 0, 1, logits, false);
            next = sample(sampler, logits, raw);
        }
        long t2 = System.nanoTime();
        return new Generation(prompt.clone(), java.util.Arrays.copyOf(out, produced), reason, t1 - t0, t2 - t1);
    }

    /** Samples; keeps a copy of the raw logits first when logprobs are wanted (penalties edit them in place). */
    private static int sample(Sampler sampler, float[] logits, float[] raw) {
        if (raw != null) {
            System.arraycopy(logits, 0, raw, 0, raw.length);
        }
        return sampler.sample(logits, 0);
    }

    /** Whether {@code ids} (may be null) holds {@code t}. */
    static boolean contains(int[] ids, int t) {
        if (ids != null) {
            for (int i : ids) {
                if (i == t) {
                    return true;
                }
            }
        }
        return false;
    }
}
