package dev.shardlight.cli;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.kernel.Kernels;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.ForwardPass;

import java.nio.file.Path;

/** A model file opened for the CLI: the mapped model and a forward pass on the chosen kernels. */
record LoadedModel(Model model, ForwardPass forward, long loadNanos) implements AutoCloseable {

    static LoadedModel open(String path, int threads) throws Exception {
        long t0 = System.nanoTime();
        Model model = Model.load(Path.of(path));
        Kernels kernels = threads > 0
                ? Backends.create(System.getProperty(Backends.KERNELS_PROPERTY, ""), threads) : Backends.kernels();
        return new LoadedModel(model, new CpuForwardPass(model, kernels), System.nanoTime() - t0);
    }

    @Override
    public void close() throws Exception {
        forward.close();
        model.close();
    }
}
