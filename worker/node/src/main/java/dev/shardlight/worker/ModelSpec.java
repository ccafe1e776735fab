package dev.shardlight.worker;

import dev.shardlight.engine.runtime.BatchScheduler;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model as declared in configuration ({@code shardlight.models}): where its weights are, how
 * many replicas to run, and what one replica needs from a worker.
 *
 * @param contextLength   longest prompt + completion accepted (capped by the model's own context)
 * @param kvBudgetBytes   KV memory one replica may hold for its sequences
 * @param weightsBytes    weight memory; 0 means "the size of the file(s) at {@code path}"
 * @param queueCapacity   requests a replica queues beyond its batch slots before it refuses more
 * @param batching        continuous-batching settings of each replica
 */
public record ModelSpec(String id, String path, int replicas, int contextLength, long kvBudgetBytes,
                        long weightsBytes, int queueCapacity, Batching batching) {

    /**
     * @param maxBatch          sequences a replica runs at once (batch slots)
     * @param stepTokens        tokens one engine step takes across all sequences (prefill chunk budget)
     * @param prefixCaching     reuse KV blocks of earlier prompts
     * @param sharedPrefixCache one prefix cache for all tenants instead of one partition per tenant
     * @param longPrefillChunk  rows a prompt's unfinished chunk may take in a step others wait on
     *                          (0: no cap); see {@code BatchScheduler}
     */
    public record Batching(int maxBatch, int stepTokens, boolean prefixCaching, boolean sharedPrefixCache,
                           int longPrefillChunk) {
        public static final Batching DEFAULT = new Batching(16, 64, true, false);

        public Batching(int maxBatch, int stepTokens, boolean prefixCaching, boolean sharedPrefixCache) {
            this(maxBatch, stepTokens, prefixCaching, sharedPrefixCache,
                    BatchScheduler.Options.DEFAULT_LONG_PREFILL_CHUNK);
        }

        public Batching {
            if (longPrefillChunk < 0) {
                throw new IllegalArgumentException("long-prefill-chunk = " + longPrefillChunk + " must be >= 0 (0: no cap)");
            }
            if (maxBatch < 1) {
                throw new IllegalArgumentException("max-batch = " + maxBatch + " must be >= 1");
            }
            if (stepTokens < maxBatch) {
                throw new IllegalArgumentException("step-tokens = " + stepTokens + " must be >= max-batch (" + maxBatch
                        + "): every running sequence needs a row per step");
            }
        }
    }

    public ModelSpec(String id, String path, int replicas, int contextLength, long kvBudgetBytes, long weightsBytes,
                     int queueCapacity) {
        this(id, path, replicas, contextLength, kvBudgetBytes, weightsBytes, queueCapacity, Batching.DEFAULT);
    }

    public ModelSpec {
        new ReplicaId(id, 0); // validates the id
        if (replicas < 0) {
            throw new IllegalArgumentException("model " + id + ": replicas = " + replicas + " must be >= 0");
        }
        if (contextLength < 1) {
            throw new IllegalArgumentException("model " + id + ": context-length = " + contextLength + " must be >= 1");
        }
        if (queueCapacity < 0) {
            throw new IllegalArgumentException("model " + id + ": queue-capacity = " + queueCapacity + " must be >= 0");
        }
    }

    /** Memory one replica occupies on a worker: its weights plus its KV budget. */
    public long footprintBytes() {
        return effectiveWeightsBytes() + kvBudgetBytes;
    }

    long effectiveWeightsBytes() {
        if (weightsBytes > 0) {
            return weightsBytes;
        }
        Path p = Path.of(path);
        try {
            if (Files.isDirectory(p)) {
                try (var files = Files.list(p)) {
                    return files.filter(f -> f.toString().endsWith(".safetensors")).mapToLong(f -> f.toFile().length()).sum();
                }
            }
            return Files.isRegularFile(p) ? Files.size(p) : 0;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    public ReplicaId replica(int index) {
        return new ReplicaId(id, index);
    }
}
