package dev.shardlight.tests;

import dev.shardlight.engine.runtime.SamplingParams;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.TokenIds;
import dev.shardlight.worker.EngineReplica;
import dev.shardlight.worker.ModelSpec;
import io.grpc.ManagedChannel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Gateway/router overhead: the same greedy request timed through the cluster (gRPC client →
 * gateway → session actor → sharded replica → engine thread → tokens back) and directly on an
 * engine in this JVM, alternating, in one run. Reports medians and p99s of both and of the
 * per-pair difference, on stdout and in target/overhead.txt.
 */
final class Overhead {
    private Overhead() {
    }

    record Result(String label, double[] clusterMs, double[] directMs, double[] diffMs) {
        String report() {
            return String.format("%s: n=%d  cluster median %.2f ms p99 %.2f ms | engine median %.2f ms p99 %.2f ms"
                            + " | overhead (cluster - engine, per pair) median %.2f ms p99 %.2f ms",
                    label, clusterMs.length, pct(clusterMs, 50), pct(clusterMs, 99), pct(directMs, 50), pct(directMs, 99),
                    pct(diffMs, 50), pct(diffMs, 99));
        }
    }

    static Result measure(String label, ManagedChannel channel, String model, String modelPath, int[] prompt, int maxTokens,
                          int warmup, int runs) throws Exception {
        GenerateRequest.Builder req = GenerateRequest.newBuilder().setModel(model).setMaxTokens(maxTokens);
        TokenIds.Builder ids = TokenIds.newBuilder();
        for (int t : prompt) {
            ids.addIds(t);
        }
        req.setTokenIds(ids);
        double[] cluster = new double[runs];
        double[] direct = new double[runs];
        double[] diff = new double[runs];
        try (EngineReplica engine = EngineReplica.open(new ModelSpec("direct", modelPath, 1, 256, 1 << 20, 0, 1))) {
            for (int i = -warmup; i < runs; i++) {
                long t0 = System.nanoTime();
                List<Integer> viaCluster = new ArrayList<>();
                InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).generate(req.build())
                        .forEachRemaining(r -> viaCluster.addAll(r.getDelta().getTokenIdsList()));
                long t1 = System.nanoTime();
                List<Integer> onEngine = new ArrayList<>();
                engine.generate(prompt, maxTokens, SamplingParams.GREEDY, new int[0], onEngine::add, () -> false);
                long t2 = System.nanoTime();
                assertEquals(onEngine, viaCluster, "the cluster streams what the engine generates");
                if (i >= 0) {
                    cluster[i] = (t1 - t0) / 1e6;
                    direct[i] = (t2 - t1) / 1e6;
                    diff[i] = cluster[i] - direct[i];
                }
            }
        }
        Result r = new Result(label + " (" + maxTokens + " tokens, prompt " + prompt.length + ")", cluster, direct, diff);
        System.out.println(r.report());
        Path out = Path.of("target", "overhead.txt");
        Files.writeString(out, r.report() + System.lineSeparator(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return r;
    }

    static double pct(double[] xs, double p) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int i = (int) Math.ceil(p / 100.0 * s.length) - 1;
        return s[Math.max(0, Math.min(s.length - 1, i))];
    }
}
