package dev.shardlight.engine.kernel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How {@link VectorKernels} cuts a wide batch into activation blocks that stay in L2. */
class BatchBlockTest {

    @Test
    void sysfsCacheSizesParse() {
        assertEquals(2048L << 10, VectorKernels.parseCacheSize("2048K"));
        assertEquals(1L << 20, VectorKernels.parseCacheSize("1M"));
        assertEquals(524288L, VectorKernels.parseCacheSize("524288"));
        assertTrue(VectorKernels.l2Bytes() >= 64 << 10, "an L2 of at least 64 KB: " + VectorKernels.l2Bytes());
    }

    /**
     * Blocks are as few as half an L2 of activations allows, of equal size up to the 4-vector tile:
     * Gemma 3 1B's 64-token prefill chunk through its 6,912-wide down projection is one block, or
     * two of 32, not several of the largest size and a short one (each block dequantizes the rows
     * again).
     */
    @Test
    void aWideBatchIsCutIntoAsFewEqualBlocksAsFit() {
        for (int cols : new int[] {256, 1152, 2048, 6912, 8192, 262144}) {
            int most = VectorKernels.largestBlock(cols);
            for (int batch = 2; batch <= 300; batch++) {
                int block = VectorKernels.batchBlock(batch, cols);
                int blocks = (batch + block - 1) / block;
                String at = "batch " + batch + ", cols " + cols + ": block " + block;
                assertTrue(block <= most, at);
                assertEquals(0, block % 4, at);
                assertEquals((batch + most - 1) / most, blocks, at + ": as few blocks as fit");
                int last = batch - (blocks - 1) * block;
                assertTrue(last > 0 && last > block - 4 * blocks, at + ": last block " + last);
            }
        }
        int downProjection = VectorKernels.batchBlock(64, 6912);
        assertTrue(downProjection == 64 || downProjection == 32 || VectorKernels.BATCH_BLOCK_FLOATS < 32 * 6912,
                "64 x 6912: " + downProjection);
    }
}
