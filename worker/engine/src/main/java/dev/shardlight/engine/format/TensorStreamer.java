package dev.shardlight.engine.format;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes tensor data into an open file in parallel: each tensor is cut into chunks of whole rows
 * (about {@value #CHUNK_BYTES} bytes), each worker thread encodes a chunk into its own direct
 * buffer and writes it at its file position. Memory use is one buffer per thread, whatever the
 * model size, and the page cache does the rest.
 */
final class TensorStreamer {

    static final int CHUNK_BYTES = 4 << 20;

    /** One tensor's place in the file. */
    record Region(String name, long fileOffset, long rows, long rowBytes, TensorData data) {
    }

    private record Chunk(Region region, long firstRow, int rowCount) {
    }

    private TensorStreamer() {
    }

    static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    static void write(FileChannel channel, List<Region> regions, int threads) throws IOException {
        List<Chunk> chunks = new ArrayList<>();
        for (Region r : regions) {
            long rowsPerChunk = Math.max(1, Math.min(r.rows, CHUNK_BYTES / Math.max(1, r.rowBytes)));
            for (long first = 0; first < r.rows; first += rowsPerChunk) {
                chunks.add(new Chunk(r, first, (int) Math.min(rowsPerChunk, r.rows - first)));
            }
        }
        ThreadLocal<ByteBuffer[]> buffers = ThreadLocal.withInitial(() -> new ByteBuffer[1]);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), Thread.ofPlatform().daemon().factory());
        try {
            List<Future<?>> done = new ArrayList<>(chunks.size());
            for (Chunk c : chunks) {
                done.add(pool.submit(() -> writeChunk(channel, c, buffers.get())));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing tensors", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof UncheckedIOException io) {
                throw io.getCause();
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(cause);
        } finally {
            pool.shutdownNow();
        }
    }

    private static void writeChunk(FileChannel channel, Chunk c, ByteBuffer[] holder) {
        int bytes = Math.toIntExact(c.rowCount * c.region.rowBytes);
        if (holder[0] == null || holder[0].capacity() < bytes) {
            holder[0] = ByteBuffer.allocateDirect(Math.max(bytes, CHUNK_BYTES));
        }
        ByteBuffer buf = holder[0].clear();
        try {
            c.region.data.encodeRows(c.firstRow, c.rowCount, MemorySegment.ofBuffer(buf).asSlice(0, bytes));
        } catch (RuntimeException e) {
            throw new IllegalStateException("encoding rows " + c.firstRow + ".." + (c.firstRow + c.rowCount)
                    + " of tensor " + c.region.name + " failed: " + e.getMessage(), e);
        }
        buf.clear().limit(bytes);
        long pos = c.region.fileOffset + c.firstRow * c.region.rowBytes;
        try {
            while (buf.hasRemaining()) {
                pos += channel.write(buf, pos);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
