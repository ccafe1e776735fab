package dev.shardlight.engine.kernel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BackendsTest {

    @Test
    void scalarChoiceGivesTheReferenceKernels() {
        assertInstanceOf(ScalarKernels.class, Backends.create("scalar", 4));
    }

    @Test
    void vectorKernelsAreTheDefaultWhenTheIncubatorModuleIsLoaded() {
        // the build runs tests with --add-modules jdk.incubator.vector on an AVX2 or AVX-512 machine
        assertNull(Backends.vectorUnavailableReason());
        try (VectorKernels k = (VectorKernels) assertInstanceOf(VectorKernels.class, Backends.create("", 3))) {
            assertEquals(3, k.threads());
        }
        try (VectorKernels k = (VectorKernels) Backends.create(" Vector ", 1)) {
            assertEquals(1, k.threads());
        }
    }

    @Test
    void unknownChoiceIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Backends.create("gpu", 1));
    }

    @Test
    void threadsPropertySetsThePoolSizeAndDefaultsToTheProcessorCount() {
        String before = System.getProperty(Backends.THREADS_PROPERTY);
        try {
            System.clearProperty(Backends.THREADS_PROPERTY);
            assertEquals(Runtime.getRuntime().availableProcessors(), Backends.threads());
            System.setProperty(Backends.THREADS_PROPERTY, "5");
            assertEquals(5, Backends.threads());
            System.setProperty(Backends.THREADS_PROPERTY, "0");
            assertThrows(IllegalArgumentException.class, Backends::threads);
        } finally {
            if (before == null) {
                System.clearProperty(Backends.THREADS_PROPERTY);
            } else {
                System.setProperty(Backends.THREADS_PROPERTY, before);
            }
        }
    }
}
