package dev.shardlight.engine.model;

import dev.shardlight.engine.format.ModelFormatException;
import dev.shardlight.engine.tensor.WeightMatrix;

/** Shape checks that name the tensor and both shapes, run before any compute. */
final class Shapes {
    private Shapes() {
    }

    static WeightMatrix expect(Object source, WeightMatrix m, int rows, int cols) {
        if (m.rows() != rows || m.cols() != cols) {
            throw new ModelFormatException(source + ": tensor " + m.name() + " has shape [" + m.rows() + " x " + m.cols()
                    + "] (out x in) but the configuration implies [" + rows + " x " + cols + "]");
        }
        if (m.cols() % m.type().blockSize != 0) {
            throw new ModelFormatException(source + ": tensor " + m.name() + " rows of " + m.cols()
                    + " are not whole " + m.type() + " blocks");
        }
        return m;
    }

    static float[] expect(Object source, String name, float[] v, int n) {
        if (v.length != n) {
            throw new ModelFormatException(source + ": tensor " + name + " has " + v.length + " elements, expected " + n);
        }
        return v;
    }

    static int positive(Object source, String key, long v) {
        if (v <= 0 || v > Integer.MAX_VALUE) {
            throw new ModelFormatException(source + ": " + key + " = " + v + " is not a valid size");
        }
        return (int) v;
    }
}
