package dev.shardlight.engine.model;

import dev.shardlight.engine.tensor.WeightMatrix;

/** All weights of a decoder; {@code output} is the token embedding itself when tied. */
public record ModelWeights(
        WeightMatrix tokenEmbedding, // (vocab, hidden)
        LayerWeights[] layers,
        float[] outputNorm,          // (hidden)
        WeightMatrix output) {       // (vocab, hidden)

    /** Bytes of all matrices, counting a tied output once. */
    public long matrixBytes() {
        long n = tokenEmbedding.data().byteSize();
        if (output != tokenEmbedding) {
            n += output.data().byteSize();
        }
        for (LayerWeights l : layers) {
            for (WeightMatrix m : new WeightMatrix[] {l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down()}) {
                n += m.data().byteSize();
            }
        }
        return n;
    }
}
