package dev.shardlight.cli;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.ForwardPass;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * A model file opened for the CLI: the mapped model and a forward pass on the chosen kernels; with
 * {@link #openWithText}, also the model's tokenizer, built on another thread while the first
 * forward pass runs (Gemma's 262k-entry vocabulary takes about a second to index).
 *
 * <p>No kernel warm-up here ({@link dev.shardlight.engine.runtime.Warmup} is for replicas, before
 * their first request): a one-shot command would only move the JIT's work before its first token.
 */
record LoadedModel(Model model, ForwardPass forward, long loadNanos,
                   CompletableFuture<TextCodec.Lookup> text) implements AutoCloseable {

    static LoadedModel open(String path, int threads) throws Exception {
        return open(path, threads, false);
    }

    static LoadedModel openWithText(String path, int threads) throws Exception {
        return open(path, threads, true);
    }

    private static LoadedModel open(String path, int threads, boolean withText) throws Exception {
        long t0 = System.nanoTime();
        Model model = Model.load(Path.of(path));
        CompletableFuture<TextCodec.Lookup> text = withText
                ? CompletableFuture.supplyAsync(() -> TextCodec.forModel(model), LoadedModel::daemon)
                : CompletableFuture.completedFuture(null);
        Kernels kernels = threads > 0
                ? Backends.create(System.getProperty(Backends.KERNELS_PROPERTY, ""), threads) : Backends.kernels();
        return new LoadedModel(model, new CpuForwardPass(model, kernels), System.nanoTime() - t0, text);
    }

    private static void daemon(Runnable r) {
        Thread t = new Thread(r, "tokenizer-load");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws Exception {
        forward.close();
        model.close();
    }
}
