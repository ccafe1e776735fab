package dev.shardlight.tokenizer;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Benchmark, not a test: load time, retained heap and single-thread encode throughput on a corpus
 * file (one text per line, JSON-escaped). Run through src/test/scripts/bench.sh, which times the
 * Hugging Face tokenizers library on the same corpus in the same run.
 *
 * <pre>java -cp ... dev.shardlight.tokenizer.TokenizerBench TOKENIZER_PATH CORPUS.jsonl [SECONDS]</pre>
 */
public final class TokenizerBench {
    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        List<String> lines = new java.util.ArrayList<>();
        for (String l : Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8)) {
            lines.add(Goldens.JSON.readTree(l).asText());
        }
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 10;

        System.gc();
        long heapBefore = usedHeap();
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        Tokenizer t = Tokenizer.fromHuggingFace(path);
        long loadNanos = System.nanoTime() - t0;
        long loadCpu = os.getProcessCpuTime() - cpu0;
        long heapAfter = usedHeap();
        long bytes = lines.stream().mapToLong(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();

        long tokens = 0;
        for (int warm = 0; warm < 3; warm++) {
            for (String s : lines) {
                tokens += t.encode(s).length;
            }
        }
        tokens = 0;
        long passes = 0;
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        double[] perPass = new double[10_000];
        while (System.nanoTime() < deadline && passes < perPass.length) {
            long p0 = System.nanoTime();
            for (String s : lines) {
                tokens += t.encode(s).length;
            }
            perPass[(int) passes++] = (System.nanoTime() - p0) / 1e9;
        }
        double[] sorted = Arrays.copyOf(perPass, (int) passes);
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        System.out.printf("shardlight    %-10s load %.0f ms (process cpu %.0f ms), heap +%.0f MB; %d lines, %.2f MB/s (median pass %.1f ms, %d passes), %.0f tokens/s%n",
                path.getFileName(), loadNanos / 1e6, loadCpu / 1e6, (heapAfter - heapBefore) / 1e6, lines.size(),
                bytes / median / 1e6, median * 1e3, passes, tokens / (double) passes / median);
        if (t.vocabularySize() < 0) {
            System.out.println(t); // keep the tokenizer reachable until after the heap reading
        }
    }

    private static long usedHeap() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        var mem = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        return mem.getUsed();
    }
}
