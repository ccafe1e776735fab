package dev.shardlight.worker;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.runtime.BatchScheduler;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.LabelScorer;
import dev.shardlight.engine.runtime.Warmup;

import java.nio.file.Path;

/**
 * The real engine behind a replica: the model memory-mapped from its file, a CPU forward pass on
 * the process-wide kernels whose step holds {@link ModelSpec.Batching#stepTokens()} tokens, and a
 * {@link BatchScheduler} over a KV pool of the declared {@link ModelSpec#kvBudgetBytes()}. Opening
 * it warms the kernels up ({@link Warmup}), so the first request does not wait for the JIT.
 */
public final class EngineReplica implements ReplicaEngine {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EngineReplica.class);
    private final Model model;
    private final CpuForwardPass forward;
    private final BatchScheduler scheduler;
    private final Info info;

    private EngineReplica(Model model, ModelSpec spec) {
        this.model = model;
        ModelConfig c = model.config();
        ModelSpec.Batching b = spec.batching();
        this.forward = new CpuForwardPass(model, Backends.kernels(), b.stepTokens());
        this.scheduler = new BatchScheduler(forward, new BatchScheduler.Options(spec.kvBudgetBytes(),
                dev.shardlight.engine.runtime.KvBlockPool.DEFAULT_BLOCK_SIZE, b.maxBatch(), b.prefixCaching(),
                b.sharedPrefixCache(), b.longPrefillChunk()));
        this.info = new Info(c.architecture().name().toLowerCase(java.util.Locale.ROOT), c.contextLength(), c.vocab(),
                forward.backend());
    }

    public static EngineReplica open(ModelSpec spec) throws Exception {
        Model model = Model.load(Path.of(spec.path()));
        try {
            EngineReplica replica = new EngineReplica(model, spec);
            // compiled kernels before the replica takes its first request (see Warmup)
            Warmup.Report warm = Warmup.run(replica.forward, Warmup.REPLICA_BUDGET_NANOS);
            if (warm.rounds() > 0) {
                LOG.info("{}: kernels warmed up in {} ms ({} rounds{})", spec.path(), warm.nanos() / 1_000_000, warm.rounds(),
                        warm.settled() ? "" : ", stopped by the time budget");
            }
            return replica;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    @Override
    public Info info() {
        return info;
    }

    @Override
    public String refusal(int promptTokens, int maxTokens) {
        return scheduler.refusal(promptTokens, maxTokens);
    }

    @Override
    public void submit(BatchScheduler.Request request, BatchScheduler.Sink sink) {
        scheduler.submit(request, sink);
    }

    @Override
    public boolean step() {
        return scheduler.step();
    }

    @Override
    public boolean busy() {
        return scheduler.busy();
    }

    @Override
    public BatchScheduler.Stats stats() {
        return scheduler.stats();
    }

    /** Scores labels on the engine thread, between batched steps (its own small KV cache). */
    @Override
    public LabelScorer.Scores score(int[] prompt, int[][] labels) {
        return new LabelScorer(forward).score(prompt, labels);
    }

    @Override
    public void close() {
        try {
            model.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + model.path() + ": " + e.getMessage(), e);
        }
    }
}
