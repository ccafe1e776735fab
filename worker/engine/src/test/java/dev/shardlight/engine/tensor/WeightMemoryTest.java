package dev.shardlight.engine.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WeightMemoryTest {

    @TempDir
    Path dir;

    @Test
    void copyHoldsTheFileByteForByteInHugePageAlignedReadOnlyMemory() throws IOException {
        // Not a multiple of the 2 MiB huge page nor of the 64 MiB copy chunk.
        byte[] bytes = new byte[(3 << 20) + 12345];
        new Random(7).nextBytes(bytes);
        Path file = dir.resolve("w.bin");
        Files.write(file, bytes);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             Arena mapped = Arena.ofShared();
             Arena copied = Arena.ofShared()) {
            MemorySegment m = WeightMemory.load(ch, mapped, WeightMemory.Mode.MMAP);
            MemorySegment c = WeightMemory.load(ch, copied, WeightMemory.Mode.COPY_HUGEPAGES);
            assertEquals(bytes.length, c.byteSize());
            assertEquals(-1, m.mismatch(c));
            assertEquals(-1, MemorySegment.ofArray(bytes).mismatch(c));
            assertEquals(0, c.address() % (2 << 20), "copy starts on a huge page boundary");
            assertTrue(c.isNative() && c.isReadOnly());
            assertThrows(IllegalArgumentException.class, () -> c.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
        }
    }

    @Test
    void settingIsParsedStrictly() {
        assertEquals(WeightMemory.Mode.COPY_HUGEPAGES, WeightMemory.Mode.parse(" Copy-HugePages "));
        assertEquals(WeightMemory.Mode.MMAP, WeightMemory.Mode.parse("mmap"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightMemory.Mode.parse("hugepages"));
        assertEquals("shardlight.weights must be mmap or copy-hugepages, not hugepages", e.getMessage());
    }
}
