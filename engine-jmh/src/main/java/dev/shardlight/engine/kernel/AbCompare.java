package dev.shardlight.engine.kernel;

import dev.shardlight.engine.tensor.GgmlType;
import dev.shardlight.engine.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * Side-by-side matmul of this build's kernels against another build's engine jar, loaded in its
 * own class loader in the same JVM, on the same weights, alternating call by call (and which goes
 * first, round by round) so that both see the same machine load; prints per-version medians and
 * the median of the per-round speed ratios. On a machine shared with builds (load average far
 * above the core count) separate runs minutes apart differ by 2x; paired rounds do not.
 *
 * <p>Usage: {@code AbCompare OLD_ENGINE_JAR TYPE[,TYPE..] THREADS BATCH ROUNDS [ROWS COLS]}
 */
public final class AbCompare {

    private AbCompare() {
    }

    public static void main(String[] args) throws Exception {
        Path oldJar = Path.of(args[0]);
        String[] types = args[1].split(",");
        int threads = Integer.parseInt(args[2]);
        int batch = Integer.parseInt(args[3]);
        int rounds = Integer.parseInt(args[4]);
        int rows = args.length > 5 ? Integer.parseInt(args[5]) : 6912;
        int cols = args.length > 6 ? Integer.parseInt(args[6]) : 1152;

        ClassLoader oldLoader = new URLClassLoader(new URL[] {oldJar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
        Class<?> oldKernelsClass = oldLoader.loadClass("dev.shardlight.engine.kernel.VectorKernels");
        @SuppressWarnings({"unchecked", "rawtypes"})
        Class<? extends Enum> oldTypeClass = (Class<? extends Enum>) oldLoader.loadClass("dev.shardlight.engine.tensor.GgmlType");
        Class<?> oldMatrixClass = oldLoader.loadClass("dev.shardlight.engine.tensor.WeightMatrix");
        Constructor<?> oldMatrixNew = oldMatrixClass.getConstructor(String.class, oldTypeClass, int.class, int.class, MemorySegment.class);
        Object oldKernels = oldKernelsClass.getConstructor(int.class).newInstance(threads);
        Method oldMatmul = oldKernelsClass.getMethod("matmul", oldMatrixClass, float[].class, float[].class, int.class);
        VectorKernels kernels = new VectorKernels(threads);

        try (Arena arena = Arena.ofShared()) {
            for (String name : types) {
                GgmlType t = GgmlType.valueOf(name);
                long bytes = rows * t.bytesFor(cols);
                int copies = batch == 1 ? (int) Math.max(1, (MatmulBench.DRAM_BYTES + bytes - 1) / bytes) : 1;
                WeightMatrix[] mNew = new WeightMatrix[copies];
                Object[] mOld = new Object[copies];
                Random rnd = new Random(42);
                for (int i = 0; i < copies; i++) {
                    MemorySegment seg = arena.allocate(bytes, 64);
                    MatmulBench.fill(t, seg, rnd);
                    mNew[i] = new WeightMatrix("w" + i, t, rows, cols, seg);
                    @SuppressWarnings("unchecked")
                    Object oldType = Enum.valueOf(oldTypeClass, name);
                    mOld[i] = oldMatrixNew.newInstance("w" + i, oldType, rows, cols, seg);
                }
                float[] x = new float[batch * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = rnd.nextFloat() * 2 - 1;
                }
                float[] outNew = new float[batch * rows];
                float[] outOld = new float[batch * rows];
                double[] tNew = new double[rounds];
                double[] tOld = new double[rounds];
                double[] ratio = new double[rounds];
                int warm = Math.max(3, rounds / 5);
                for (int r = -warm; r < rounds; r++) {
                    double a;
                    double b;
                    if ((r & 1) == 0) {
                        a = timeOld(oldMatmul, oldKernels, mOld, x, outOld, batch);
                        b = timeNew(kernels, mNew, x, outNew, batch);
                    } else {
                        b = timeNew(kernels, mNew, x, outNew, batch);
                        a = timeOld(oldMatmul, oldKernels, mOld, x, outOld, batch);
                    }
                    if (r >= 0) {
                        tOld[r] = a;
                        tNew[r] = b;
                        ratio[r] = a / b;
                    }
                }
                double maxRel = 0;
                double scale = 0;
                for (float v : outOld) {
                    scale = Math.max(scale, Math.abs(v));
                }
                for (int i = 0; i < outNew.length; i++) {
                    maxRel = Math.max(maxRel, Math.abs(outNew[i] - outOld[i]) / scale);
                }
                System.out.println("old " + oldKernelsClass.getProtectionDomain().getCodeSource().getLocation() + " out[0..2] "
                        + outOld[0] + " " + outOld[1] + " | new " + VectorKernels.class.getProtectionDomain().getCodeSource().getLocation()
                        + " " + outNew[0] + " " + outNew[1]);
                double flops = 2.0 * rows * cols * batch;
                double mo = median(tOld);
                double mn = median(tNew);
                System.out.printf("%-5s %dx%d batch %d threads %d, %d rounds: old %8.1f us %6.2f GB/s %6.2f GFLOP/s | new %8.1f us %6.2f GB/s %6.2f GFLOP/s | speed-up median %.2fx (p25 %.2f, p75 %.2f) | max |new-old|/max|old| %.1e%n",
                        t, rows, cols, batch, threads, rounds, mo * 1e6, bytes / mo / 1e9, flops / mo / 1e9,
                        mn * 1e6, bytes / mn / 1e9, flops / mn / 1e9, median(ratio), pct(ratio, 0.25), pct(ratio, 0.75), maxRel);
            }
        } finally {
            kernels.close();
            ((AutoCloseable) oldKernels).close();
        }
    }

    /** Seconds per matmul, averaged over one pass through all copies. */
    private static double timeNew(VectorKernels k, WeightMatrix[] ms, float[] x, float[] out, int batch) {
        long t0 = System.nanoTime();
        for (WeightMatrix m : ms) {
            k.matmul(m, x, out, batch);
        }
        return (System.nanoTime() - t0) / 1e9 / ms.length;
    }

    private static double timeOld(Method matmul, Object k, Object[] ms, float[] x, float[] out, int batch) throws Exception {
        long t0 = System.nanoTime();
        for (Object m : ms) {
            matmul.invoke(k, m, x, out, batch);
        }
        return (System.nanoTime() - t0) / 1e9 / ms.length;
    }

    private static double median(double[] v) {
        return pct(v, 0.5);
    }

    private static double pct(double[] v, double p) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[(int) Math.round(p * (s.length - 1))];
    }
}
