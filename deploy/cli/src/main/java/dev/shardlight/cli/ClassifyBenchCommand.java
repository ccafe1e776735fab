package dev.shardlight.cli;

import dev.shardlight.engine.model.ModelConfig;
import dev.shardlight.engine.runtime.ForwardPass;
import dev.shardlight.engine.runtime.KvCache;
import dev.shardlight.engine.runtime.LabelScorer;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.Set;

/**
 * `shardlight classify-bench`: the classifier's cost per routed request on a model, i.e. what
 * intent routing adds before the target model starts. Random prompt and label tokens; after one
 * warm-up, each run times three things side by side, in rotating order:
 * <ul>
 *   <li>score: {@link LabelScorer} (one prompt prefill, then each multi-token label on the
 *       prompt's KV cache);</li>
 *   <li>prefill: the prompt's prefill alone (the floor any classifier pays);</li>
 *   <li>naive: no KV reuse, each label prefills the prompt again and then runs its own
 *       tokens.</li>
 * </ul>
 * Reports medians over {@code --runs} and the ratios score/prefill and naive/score.
 *
 * <p>With {@code --cluster}: the same classification end to end instead, through a one-node
 * cluster serving the model (gRPC Classify → gateway → router → replica's engine thread), with
 * a text input and intent-like labels; reports the median call time (client side), the median
 * time the gateway reports, and the median engine time inside it.
 */
final class ClassifyBenchCommand implements Subcommand {
    @Override
    public String name() {
        return "classify-bench";
    }

    @Override
    public String summary() {
        return "classify-bench --model PATH [--prompt-tokens 96] [--labels 1,1,2,3] [--runs 21] [--threads N] [--json] [--cluster]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("model", "prompt-tokens", "labels", "runs", "threads", "seed"), Set.of("json", "cluster"))
                .noPositional();
        if (a.flag("cluster")) {
            return throughCluster(a, out);
        }
        int promptTokens = a.getInt("prompt-tokens", 96);
        int runs = a.getInt("runs", 21);
        String spec = a.get("labels") == null ? "1,1,2,3" : a.get("labels");
        int[] lengths;
        try {
            lengths = Arrays.stream(spec.split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        } catch (NumberFormatException e) {
            throw new Args.UsageException("--labels: comma-separated label lengths in tokens, e.g. 1,1,2,3");
        }
        if (promptTokens < 1 || runs < 1 || Arrays.stream(lengths).anyMatch(n -> n < 1 || n > LabelScorer.MAX_LABEL_TOKENS)) {
            throw new Args.UsageException("--prompt-tokens and --runs must be >= 1, label lengths 1.." + LabelScorer.MAX_LABEL_TOKENS);
        }
        try (LoadedModel m = LoadedModel.open(a.required("model"), a.getInt("threads", 0))) {
            ForwardPass f = m.forward();
            ModelConfig c = f.config();
            SplittableRandom rnd = new SplittableRandom(a.getLong("seed") == null ? 1 : a.getLong("seed"));
            int[] prompt = rnd.ints(promptTokens, 0, c.vocab()).toArray();
            int[][] labels = new int[lengths.length][];
            for (int k = 0; k < labels.length; k++) {
                labels[k] = rnd.ints(lengths[k], 0, c.vocab()).toArray();
            }
            LabelScorer scorer = new LabelScorer(f);
            double[] score = new double[runs];
            double[] prefill = new double[runs];
            double[] naive = new double[runs];
            for (int r = -1; r < runs; r++) { // r = -1 is the warm-up
                long[] t = new long[3];
                for (int j = 0; j < 3; j++) {
                    int which = Math.floorMod(r + j, 3); // rotate the order so drift hits all three alike
                    long t0 = System.nanoTime();
                    switch (which) {
                        case 0 -> scorer.score(prompt, labels);
                        case 1 -> prefill(f, prompt);
                        default -> naive(f, prompt, labels);
                    }
                    t[which] = System.nanoTime() - t0;
                }
                if (r >= 0) {
                    score[r] = t[0] / 1e6;
                    prefill[r] = t[1] / 1e6;
                    naive[r] = t[2] / 1e6;
                }
            }
            double s = median(score);
            double p = median(prefill);
            double n = median(naive);
            if (a.flag("json")) {
                out.println("{\"model\":" + Json.string(a.required("model")) + ",\"backend\":" + Json.string(f.backend())
                        + ",\"prompt_tokens\":" + promptTokens + ",\"labels\":" + Json.ids(lengths) + ",\"runs\":" + runs
                        + ",\"score_ms\":" + Json.number(s) + ",\"prefill_ms\":" + Json.number(p)
                        + ",\"naive_ms\":" + Json.number(n) + "}");
            } else {
                out.printf("%s  %s  prompt %d tokens, labels of %s tokens, median of %d%n"
                                + "  score %.2f ms   prefill alone %.2f ms   naive (re-prefill per label) %.2f ms%n"
                                + "  score/prefill %.2fx   naive/score %.2fx%n",
                        a.required("model"), f.backend(), promptTokens, spec, runs, s, p, n, s / p, n / s);
            }
        }
        return 0;
    }

    /** Classify calls through a one-node cluster; the prompt is the default template around a fixed request text. */
    private static int throughCluster(Args a, PrintStream out) throws Exception {
        int runs = a.getInt("runs", 21);
        String model = a.required("model");
        com.typesafe.config.Config config = com.typesafe.config.ConfigFactory.parseString("""
                shardlight.cluster-port = 0
                shardlight.gateway.port = 0
                shardlight.metrics.port = -1
                shardlight.http.port = 0
                shardlight.router.poll-interval = 200ms
                pekko.loglevel = WARNING
                """).withFallback(com.typesafe.config.ConfigFactory.parseMap(java.util.Map.of("shardlight.models", List.of(
                java.util.Map.of("id", "router", "path", model, "replicas", 1, "context-length", 2048, "kv-budget-mb", 64)))));
        try (dev.shardlight.gateway.ShardlightNode node = dev.shardlight.gateway.ShardlightNode.start(config)) {
            var failed = node.awaitSettled(java.time.Duration.ofMinutes(5));
            if (!failed.isEmpty()) {
                throw new IllegalStateException("model did not load: " + failed);
            }
            var channel = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", node.grpcPort())
                    .usePlaintext().build();
            try {
                var stub = dev.shardlight.proto.v1.InferenceGrpc.newBlockingStub(channel);
                var request = dev.shardlight.proto.v1.ClassifyRequest.newBuilder().setModel("router")
                        .setText("My last invoice charged me twice for the same subscription; can you refund one of the payments?");
                for (String[] l : new String[][] {{"billing", "invoices, refunds and payments"}, {"coding", "programming questions"},
                        {"chitchat", "greetings and small talk"}, {"other", "anything else"}}) {
                    request.addLabels(dev.shardlight.proto.v1.ClassifyLabel.newBuilder().setName(l[0]).setDescription(l[1]));
                }
                double[] call = new double[runs];
                double[] gateway = new double[runs];
                double[] engine = new double[runs];
                dev.shardlight.proto.v1.ClassifyResponse last = null;
                for (int r = -1; r < runs; r++) {
                    long t0 = System.nanoTime();
                    last = stub.withDeadlineAfter(60, java.util.concurrent.TimeUnit.SECONDS).classify(request.build());
                    if (r >= 0) {
                        call[r] = (System.nanoTime() - t0) / 1e6;
                        gateway[r] = last.getDurationMs();
                        engine[r] = last.getEngineMs();
                    }
                }
                double c = median(call);
                double g = median(gateway);
                double e = median(engine);
                int[] tokens = last.getScoresList().stream().mapToInt(x -> x.getTokens()).toArray();
                if (a.flag("json")) {
                    out.println("{\"model\":" + Json.string(model) + ",\"prompt_tokens\":" + last.getPromptTokens()
                            + ",\"labels\":" + Json.ids(tokens) + ",\"runs\":" + runs + ",\"call_ms\":" + Json.number(c)
                            + ",\"gateway_ms\":" + Json.number(g) + ",\"engine_ms\":" + Json.number(e) + "}");
                } else {
                    out.printf("%s  through a one-node cluster: prompt %d tokens, labels of %s tokens, median of %d%n"
                                    + "  Classify call %.2f ms   at the gateway %.2f ms   in the engine %.2f ms   (outside the engine %.2f ms)%n",
                            model, last.getPromptTokens(), Arrays.toString(tokens), runs, c, g, e, c - e);
                }
            } finally {
                channel.shutdownNow();
            }
        }
        return 0;
    }

    private static void prefill(ForwardPass f, int[] prompt) {
        KvCache cache = f.newCache(prompt.length);
        f.forward(cache, prompt, 0, prompt.length, new float[f.config().vocab()], false);
    }

    /** Without KV reuse: every label prefills the prompt again, then runs its own tokens. */
    private static void naive(ForwardPass f, int[] prompt, int[][] labels) {
        int vocab = f.config().vocab();
        for (int[] label : labels) {
            KvCache cache = f.newCache(prompt.length + label.length);
            f.forward(cache, prompt, 0, prompt.length, new float[vocab], false);
            if (label.length > 1) {
                f.forward(cache, label, 0, label.length - 1, new float[(label.length - 1) * vocab], true);
            }
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
