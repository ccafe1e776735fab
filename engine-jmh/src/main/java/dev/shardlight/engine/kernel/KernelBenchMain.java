package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Runs the kernel benchmarks (JMH command-line options pass through, e.g. {@code -p type=Q8_0,Q4_0
 * -p threads=1,2 -p batch=1,64 -f 1}) and prints, next to JMH's times, what they mean: GB/s of
 * weights read and GFLOP/s (2 per weight per activation row) for matmul, GB/s for the read
 * bandwidth benchmark.
 */
public final class KernelBenchMain {

    private KernelBenchMain() {
    }

    public static void main(String[] args) throws RunnerException {
        CommandLineOptions cli;
        try {
            cli = new CommandLineOptions(args);
        } catch (org.openjdk.jmh.runner.options.CommandLineOptionException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        ChainedOptionsBuilder b = new OptionsBuilder().parent(cli);
        if (cli.getIncludes().isEmpty()) {
            b.include(MatmulBench.class.getSimpleName()).include(ReadBandwidthBench.class.getSimpleName());
        }
        Collection<RunResult> results = new Runner(b.build()).run();
        List<String> lines = new ArrayList<>();
        for (RunResult r : results) {
            var p = r.getParams();
            double us = r.getPrimaryResult().getScore();
            double err = r.getPrimaryResult().getScoreError();
            String name = p.getBenchmark();
            if (name.endsWith("MatmulBench.matmul")) {
                GgmlType t = GgmlType.valueOf(p.getParam("type"));
                int rows = Integer.parseInt(p.getParam("rows"));
                int cols = Integer.parseInt(p.getParam("cols"));
                int batch = Integer.parseInt(p.getParam("batch"));
                double bytes = rows * (double) t.bytesFor(cols);
                double flops = 2.0 * rows * cols * batch;
                lines.add(String.format("matmul %-5s %dx%d batch %-3d threads %s: %9.1f +- %7.1f us  %6.2f GB/s  %7.2f GFLOP/s",
                        t, rows, cols, batch, p.getParam("threads"), us, err, bytes / us / 1e3, flops / us / 1e3));
            } else if (name.endsWith("ReadBandwidthBench.read")) {
                lines.add(String.format("read bandwidth 256 MB threads %s: %9.1f +- %7.1f us  %6.2f GB/s",
                        p.getParam("threads"), us, err, ReadBandwidthBench.BYTES / us / 1e3));
            }
        }
        System.out.println();
        lines.forEach(System.out::println);
    }
}
