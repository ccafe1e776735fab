package dev.shardlight.engine.kernel;

/**
 * Picks the {@link Kernels} implementation at run time. {@link VectorKernels} when the
 * jdk.incubator.vector module is present (the JVM was started with
 * {@code --add-modules jdk.incubator.vector}) and the machine has 256- or 512-bit vectors, else
 * {@link ScalarKernels}. System property {@code shardlight.kernels=scalar|vector} forces one;
 * {@code shardlight.threads} sets the thread count (default: available processors).
 */
public final class Backends {

    public static final String KERNELS_PROPERTY = "shardlight.kernels";
    public static final String THREADS_PROPERTY = "shardlight.threads";

    private static volatile Kernels shared;

    private Backends() {
    }

    /** The process-wide kernels (one worker pool per process), created on first use. */
    public static Kernels kernels() {
        Kernels k = shared;
        if (k == null) {
            synchronized (Backends.class) {
                k = shared;
                if (k == null) {
                    k = create(System.getProperty(KERNELS_PROPERTY, ""), threads());
                    shared = k;
                }
            }
        }
        return k;
    }

    /**
     * A new kernels instance: {@code choice} is "scalar", "vector" or "" (the best available);
     * "vector" fails when the Vector API cannot be used.
     */
    public static Kernels create(String choice, int threads) {
        return switch (choice.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "scalar" -> new ScalarKernels();
            case "vector" -> {
                String why = vectorUnavailableReason();
                if (why != null) {
                    throw new IllegalStateException("shardlight.kernels=vector: " + why);
                }
                yield new VectorKernels(threads);
            }
            case "" -> vectorUnavailableReason() == null ? new VectorKernels(threads) : new ScalarKernels();
            default -> throw new IllegalArgumentException(KERNELS_PROPERTY + " must be scalar or vector, not " + choice);
        };
    }

    static int threads() {
        String v = System.getProperty(THREADS_PROPERTY);
        if (v == null || v.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        int n = Integer.parseInt(v.trim());
        if (n < 1) {
            throw new IllegalArgumentException(THREADS_PROPERTY + " must be at least 1, not " + v);
        }
        return n;
    }

    /** Why the Vector API cannot be used here, or null when it can. */
    static String vectorUnavailableReason() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "module jdk.incubator.vector is not loaded (start the JVM with --add-modules jdk.incubator.vector)";
        }
        try {
            // Touching the class initialises the species; this only links when the module is present.
            if (!VectorRows.supported()) {
                return "the preferred vector species has " + VectorRows.L + " float lanes; 8 or 16 are needed";
            }
        } catch (LinkageError e) {
            return "the Vector API failed to load: " + e;
        }
        return null;
    }
}
