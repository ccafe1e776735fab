package dev.shardlight.tests;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A `shardlight node` in its own JVM, started from this test's classpath, output in
 * target/node-logs/NAME.log. {@link #kill()} is SIGKILL: no leave, no hand-off, as when a machine dies.
 */
final class NodeProcess implements AutoCloseable {
    final String name;
    final String host;
    final int clusterPort;
    private final Process process;
    final Path log;

    private NodeProcess(String name, String host, int clusterPort, Process process, Path log) {
        this.name = name;
        this.host = host;
        this.clusterPort = clusterPort;
        this.process = process;
        this.log = log;
    }

    static NodeProcess start(String name, String host, List<String> nodeArgs) throws IOException {
        int port = freePort(host);
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx384m", "-XX:+UseSerialGC"));
        cmd.addAll(List.of("-Dshardlight.threads=1", "-cp", cp, "dev.shardlight.cli.Shardlight", "node",
                "--host", host, "--port", String.valueOf(port), "--metrics-port", "-1", "--http-port", "0"));
        cmd.addAll(nodeArgs);
        Path logs = Path.of("target", "node-logs");
        Files.createDirectories(logs);
        Path log = logs.resolve(name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new NodeProcess(name, host, port, p, log);
    }

    String address() {
        return host + ":" + clusterPort;
    }

    boolean alive() {
        return process.isAlive();
    }

    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** Graceful: SIGTERM runs the node's shutdown hook (leave the cluster, hand replicas off). */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host))) {
            return s.getLocalPort();
        }
    }
}
