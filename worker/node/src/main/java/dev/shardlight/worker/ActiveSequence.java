package dev.shardlight.worker;

import dev.shardlight.engine.runtime.TokenLogprobs;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The sequence a replica's engine thread is decoding, and the only state that thread shares
 * with the actor: send credits and the cancel flag.
 *
 * <p>Credit-based backpressure: the requester grants tokens ({@link ModelReplica.Generate#initialCredit()}
 * then {@link ModelReplica.Credit}) as it writes them to its client; the engine thread takes one
 * credit per token before sending it and waits when none is left, so a slow reader pauses its own
 * sequence instead of filling mailboxes. The wait re-checks cancellation and the deadline every
 * {@link #POLL_MILLIS}, so a stalled, cancelled stream still ends within one step.
 */
final class ActiveSequence {
    static final long POLL_MILLIS = 20;

    final ModelReplica.Generate request;
    private final Semaphore credits;
    private volatile boolean cancelled;
    private volatile String cancelReason = "cancelled";
    private int sent;

    ActiveSequence(ModelReplica.Generate request) {
        this.request = request;
        this.credits = new Semaphore(Math.max(1, request.initialCredit()));
    }

    void grant(int tokens) {
        if (tokens > 0) {
            credits.release(tokens);
        }
    }

    void cancel(String reason) {
        cancelReason = reason;
        cancelled = true;
    }

    boolean cancelled() {
        if (!cancelled && request.deadlineEpochMillis() > 0 && System.currentTimeMillis() > request.deadlineEpochMillis()) {
            cancel("deadline exceeded");
        }
        return cancelled;
    }

    String cancelReason() {
        return cancelReason;
    }

    /** Tokens actually sent to the requester (a token chosen after cancellation is dropped). */
    int sent() {
        return sent;
    }

    /**
     * Engine thread: waits for a credit, then sends the token (with its logprobs when the request
     * asked for them); drops it once cancelled.
     */
    void emit(int token, TokenLogprobs lp) {
        try {
            while (!credits.tryAcquire(POLL_MILLIS, TimeUnit.MILLISECONDS)) {
                if (cancelled()) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            cancel("replica stopping");
            return;
        }
        if (cancelled()) {
            return;
        }
        sent++;
        ModelReplica.Logprob[] logprobs = lp == null || request.logprobs() <= 0 ? null
                : new ModelReplica.Logprob[] {new ModelReplica.Logprob(lp.token(), lp.logprob(), lp.topIds(), lp.topLogprobs())};
        request.replyTo().tell(new ModelReplica.Tokens(request.requestId(), new int[] {token}, logprobs));
    }
}
