package dev.shardlight.worker;

import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.ForwardPass;
import dev.shardlight.engine.runtime.Generation;
import dev.shardlight.engine.runtime.Generator;
import dev.shardlight.engine.runtime.KvCache;
import dev.shardlight.engine.runtime.LabelScorer;
import dev.shardlight.engine.runtime.SamplingParams;

import java.nio.file.Path;
import java.util.function.BooleanSupplier;

/**
 * The real engine behind a replica: the model memory-mapped from its file, a CPU forward pass
 * on the process-wide kernels, and the engine's {@link Generator}. The forward pass is wrapped
 * so the replica can see (and report) the KV cache of the running sequence; the cache becomes
 * garbage as soon as {@link #generate} returns, cancelled or not.
 */
public final class EngineReplica implements ReplicaEngine {
    private final Model model;
    private final ForwardPass forward;
    private final Info info;
    private volatile KvCache live;

    private EngineReplica(Model model, ForwardPass forward) {
        this.model = model;
        this.forward = forward;
        ModelConfig c = model.config();
        this.info = new Info(c.architecture().name().toLowerCase(java.util.Locale.ROOT), c.contextLength(), c.vocab(),
                forward.backend());
    }

    public static EngineReplica open(ModelSpec spec) throws Exception {
        Model model = Model.load(Path.of(spec.path()));
        try {
            return new EngineReplica(model, new CpuForwardPass(model, Backends.kernels()));
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
    public Generation generate(int[] prompt, int maxTokens, SamplingParams sampling, int[] stopTokens, int logprobs,
                               Generator.TokenObserver onToken, BooleanSupplier cancelled) {
        try {
            return new Generator(new Tracking()).generate(prompt, maxTokens, sampling, stopTokens, logprobs, onToken,
                    cancelled);
        } finally {
            live = null;
        }
    }

    @Override
    public LabelScorer.Scores score(int[] prompt, int[][] labels) {
        try {
            return new LabelScorer(new Tracking()).score(prompt, labels);
        } finally {
            live = null;
        }
    }

    @Override
    public long kvBytesInUse() {
        KvCache c = live;
        return c == null ? 0 : c.bytes();
    }

    @Override
    public void close() {
        forward.close();
        try {
            model.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing " + model.path() + ": " + e.getMessage(), e);
        }
    }

    /** Delegates to the forward pass and remembers the cache it hands out. */
    private final class Tracking implements ForwardPass {
        @Override
        public ModelConfig config() {
            return forward.config();
        }

        @Override
        public String backend() {
            return forward.backend();
        }

        @Override
        public KvCache newCache(int maxLength) {
            KvCache c = forward.newCache(maxLength);
            live = c;
            return c;
        }

        @Override
        public void forward(KvCache cache, int[] tokens, int offset, int count, float[] logits, boolean allPositions) {
            forward.forward(cache, tokens, offset, count, logits, allPositions);
        }
    }
}
