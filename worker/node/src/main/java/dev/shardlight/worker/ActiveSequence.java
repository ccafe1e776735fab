package dev.shardlight.worker;

import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.TokenLogprobs;

import java.util.concurrent.Semaphore;

/**
 * A sequence the replica's engine is running or holding, and the only state the engine thread
 * shares with the actor: send credits and the cancel flag.
 *
 * <p>Credit-based backpressure: the requester grants tokens ({@link ModelReplica.Generate#initialCredit()}
 * then {@link ModelReplica.Credit}) as it writes them to its client; the scheduler asks
 * {@link #ready()} before giving the sequence a row in a step, so a sequence without credit sits
 * out (keeping its KV cache) while the rest of the batch goes on: a slow reader slows only its
 * own stream. Cancellation and the deadline are polled at every step, waiting or running.
 */
final class ActiveSequence implements BatchScheduler.Sink {
    final ModelReplica.Generate request;
    private final Semaphore credits;
    private final Runnable wake;
    private final java.util.function.Consumer<ActiveSequence> ended;
    private volatile boolean cancelled;
    private volatile String cancelReason = "cancelled";
    private int sent;

    /**
     * @param wake  nudges the engine loop (a credit or a cancel may let a step run)
     * @param ended engine thread: called after the requester was told the sequence completed
     */
    ActiveSequence(ModelReplica.Generate request, Runnable wake, java.util.function.Consumer<ActiveSequence> ended) {
        this.request = request;
        this.credits = new Semaphore(Math.max(1, request.initialCredit()));
        this.wake = wake;
        this.ended = ended;
    }

    void grant(int tokens) {
        if (tokens > 0) {
            credits.release(tokens);
            wake.run();
        }
    }

    void cancel(String reason) {
        cancelReason = reason;
        cancelled = true;
        wake.run();
    }

    @Override
    public boolean cancelled() {
        if (!cancelled && request.deadlineEpochMillis() > 0 && System.currentTimeMillis() > request.deadlineEpochMillis()) {
            cancelReason = "deadline exceeded";
            cancelled = true;
        }
        return cancelled;
    }

    String cancelReason() {
        return cancelReason;
    }

    /** Tokens actually sent to the requester. */
    int sent() {
        return sent;
    }

    @Override
    public boolean ready() {
        return credits.availablePermits() > 0;
    }

    /** Engine thread: sends the token (with its logprobs when the request asked for them), spending a credit. */
    @Override
    public void token(int token, TokenLogprobs lp) {
        credits.tryAcquire();
        sent++;
        ModelReplica.Logprob[] logprobs = lp == null || request.logprobs() <= 0 ? null
                : new ModelReplica.Logprob[] {new ModelReplica.Logprob(lp.token(), lp.logprob(), lp.topIds(), lp.topLogprobs())};
        request.replyTo().tell(new ModelReplica.Tokens(request.requestId(), new int[] {token}, logprobs));
    }

    @Override
    public void finished(BatchScheduler.Result r) {
        ModelReplica.Finish finish = switch (r.outcome()) {
            case STOP -> ModelReplica.Finish.STOP;
            case LENGTH -> ModelReplica.Finish.LENGTH;
            case CANCELLED -> ModelReplica.Finish.CANCELLED;
            case ERROR -> ModelReplica.Finish.ERROR;
        };
        String message = switch (finish) {
            case CANCELLED -> r.queueNanos() == 0 ? cancelReason + " while queued" : cancelReason;
            case ERROR -> r.message();
            default -> "";
        };
        request.replyTo().tell(new ModelReplica.Completed(request.requestId(), finish, r.promptTokens(), sent, message,
                r.cachedTokens(), r.queueNanos() / 1000));
        ended.accept(this);
    }
}
