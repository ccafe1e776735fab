package dev.shardlight.gateway.openai;

import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One Generate call as the HTTP door consumes it: events are taken with a timeout, so the door can
 * write SSE keep-alives while it waits (the only way to notice that an HTTP client went away is to
 * write to it) and cancel the call when that fails. Messages are requested one at a time, as the
 * blocking stub does, so a slow HTTP client holds the stream back through gRPC flow control
 * instead of buffering it here.
 */
final class GenerateCall implements ClientResponseObserver<GenerateRequest, GenerateResponse> {
    /** What {@link #next} returns when the call completed without error. */
    static final Object END = new Object();

    private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private volatile ClientCallStreamObserver<GenerateRequest> call;

    @Override
    public void beforeStart(ClientCallStreamObserver<GenerateRequest> requestStream) {
        call = requestStream;
        requestStream.disableAutoRequestWithInitial(1);
    }

    @Override
    public void onNext(GenerateResponse value) {
        events.add(value);
    }

    @Override
    public void onError(Throwable t) {
        events.add(t instanceof StatusRuntimeException e ? e
                : Status.fromThrowable(t).asRuntimeException(Status.trailersFromThrowable(t)));
    }

    @Override
    public void onCompleted() {
        events.add(END);
    }

    /**
     * The next response, {@link #END}, or null when none came within {@code timeoutMillis}.
     *
     * @throws StatusRuntimeException the call's failure, trailers (e.g. RetryInfo) included
     */
    Object next(long timeoutMillis) throws InterruptedException {
        Object e = timeoutMillis < 0 ? events.take() : events.poll(timeoutMillis, TimeUnit.MILLISECONDS);
        if (e instanceof StatusRuntimeException failure) {
            throw failure;
        }
        if (e instanceof GenerateResponse) {
            call.request(1);
        }
        return e;
    }

    /** Cancels the call (no-op once it ended): its sequence stops and its KV cache is freed. */
    void cancel(String why, Throwable cause) {
        ClientCallStreamObserver<GenerateRequest> c = call;
        if (c != null) {
            c.cancel(why, cause);
        }
    }
}
