package dev.shardlight.cli;

import com.typesafe.config.Config;
import dev.shardlight.gateway.ShardlightNode;

import java.io.PrintStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * `shardlight serve`: every role (gateway, router, worker) in this JVM, a one-node Pekko cluster
 * serving the given models over gRPC until Ctrl-C. With no model it serves a random-weight
 * Gemma 3 270M, and says so.
 */
final class ServeCommand implements Subcommand {
    @Override
    public String name() {
        return "serve";
    }

    @Override
    public String summary() {
        return "serve [--model [ID=]PATH]... [--grpc-port 50051] [--http-port 8080] [--metrics-port 9464] [--host 127.0.0.1] [--replicas N]"
                + " [--context-length N] [--kv-budget-mb N] [--queue-capacity N] [--max-batch N] [--step-tokens N] [--memory-mb N] [--threads N] [--config FILE]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        ClusterOptions.Parsed p = ClusterOptions.parse(argv, Set.of(), Set.of());
        Map<String, Object> defaults = new HashMap<>();
        defaults.put("shardlight.roles", List.of("gateway", "router", "worker"));
        defaults.put("shardlight.seed-nodes", List.of());
        defaults.put("shardlight.cluster-port", 0); // one node: no other node needs to find it
        Config config = ClusterOptions.config(p, defaults);
        boolean random = p.models().isEmpty() && (!config.hasPath("shardlight.models") || config.getList("shardlight.models").isEmpty());
        if (random) {
            String path = RandomGemma.ensure(err).toString();
            config = ClusterOptions.config(new ClusterOptions.Parsed(p.args(), List.of(RandomGemma.ID + "=" + path)), defaults);
            err.println("shardlight: no --model given: serving " + RandomGemma.ID
                    + ", Gemma 3 270M with RANDOM weights. Its output is random text; every step of the path is real.");
        }
        return runUntilInterrupted(config, out, err);
    }

    static int runUntilInterrupted(Config config, PrintStream out, PrintStream err) throws Exception {
        ShardlightNode node = ShardlightNode.start(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                stopped.countDown();
            }
        }, "shardlight-shutdown"));
        if (node.grpcPort() > 0) {
            try {
                node.awaitSettled(Duration.ofMinutes(10)).forEach((model, why) ->
                        err.println("shardlight: model " + model + " is not served: " + why));
            } catch (IllegalStateException notYet) {
                err.println("shardlight: " + notYet.getMessage() + "; serving what is ready, the rest as it comes");
            }
            String host = node.host();
            out.println("shardlight: serving " + String.join(", ", node.catalog().ids()) + " on " + host + ":" + node.grpcPort()
                    + " (gRPC)" + (node.httpPort() > 0 ? ", OpenAI-compatible HTTP on http://" + host + ":" + node.httpPort() + "/v1" : "")
                    + (node.metricsPort() > 0 ? ", metrics on http://" + host + ":" + node.metricsPort() + "/metrics" : ""));
            out.println("  try: bin/shardlight chat --target " + host + ":" + node.grpcPort() + " --model "
                    + node.catalog().ids().get(0) + " \"Hello!\"");
        } else {
            out.println("shardlight: node up on " + node.host() + " with roles " + node.roles());
        }
        out.flush();
        stopped.await();
        return 0;
    }
}
