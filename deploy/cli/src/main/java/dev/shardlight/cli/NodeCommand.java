package dev.shardlight.cli;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Set;

/**
 * `shardlight node`: one member of a multi-node cluster with the given roles. Every node declares
 * the same models (--model or --config); workers declare their memory budget (--memory-mb).
 */
final class NodeCommand implements Subcommand {
    @Override
    public String name() {
        return "node";
    }

    @Override
    public String summary() {
        return "node --roles gateway,router|worker|tokenizer --port CLUSTER_PORT --seed-nodes HOST:PORT[,...] [--host 127.0.0.1]"
                + " [--grpc-port 50051] [--http-port 8080] [--tokenizer-port 50052] [--metrics-port 9464] [--memory-mb N] [--model [ID=]PATH]... [--replicas N]"
                + " [--config FILE]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        ClusterOptions.Parsed p = ClusterOptions.parse(argv, Set.of(), Set.of());
        if (p.args().get("roles") == null) {
            throw new Args.UsageException("--roles is required (e.g. gateway,router or worker)");
        }
        return ServeCommand.runUntilInterrupted(ClusterOptions.config(p, new HashMap<>()), out, err);
    }
}
