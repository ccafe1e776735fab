#!/usr/bin/env python3
"""Writes the quant oracle that QuantOracleTest holds the Java dequantization to.

For each of F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K: ROWS rows of COLS elements of raw block bytes
(<type>.blocks) and their float32 dequantization by gguf-py's gguf.quants.dequantize, the numpy
port of ggml's dequantize_row_* (<type>.f32, little-endian). Block bits are uniform random; the
f16 block scales (d, dmin) are random values of the size real checkpoints have, so products stay
normal floats. F16/BF16 rows also carry zeros, subnormals, the largest finite value, infinities
and a NaN.

Run from the repository root:  /work/venv/bin/python worker/engine/src/test/python/make_quant_oracle.py
"""
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

ROWS = 4
COLS = 512
OUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "kernels"
rng = np.random.default_rng(20250101)


def f16_scales(n, lo, hi, signed=True):
    v = rng.uniform(lo, hi, n)
    if signed:
        v *= rng.choice([-1.0, 1.0], n)
    return v.astype(np.float16).view(np.uint8).reshape(n, 2)


def random_blocks(qtype):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n = ROWS * COLS // block_size
    blocks = rng.integers(0, 256, (n, type_size), dtype=np.uint8)
    if qtype in (T.Q8_0, T.Q4_0):                # f16 d first
        blocks[:, 0:2] = f16_scales(n, 0.002, 0.012)
    elif qtype == T.Q4_K:                         # f16 d, f16 dmin first
        blocks[:, 0:2] = f16_scales(n, 0.0005, 0.0025)
        blocks[:, 2:4] = f16_scales(n, 0.0002, 0.0022, signed=False)
    elif qtype == T.Q6_K:                         # f16 d last
        blocks[:, 208:210] = f16_scales(n, 0.0002, 0.0012)
    return blocks.reshape(ROWS, -1)


SPECIAL_F16 = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x3C00, 0x3555]
SPECIAL_BF16 = [0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0x3F80, 0x3EAB]


def half_rows(qtype):
    x = rng.normal(0.0, 0.05, (ROWS, COLS)).astype(np.float32)
    if qtype == T.F16:
        bits = x.astype(np.float16).view(np.uint16)
        bits[0, :len(SPECIAL_F16)] = SPECIAL_F16
    else:
        bits = quantize(x, T.BF16).view(np.uint16)  # ggml's round-to-nearest-even bf16
        bits[0, :len(SPECIAL_BF16)] = SPECIAL_BF16
    return bits.astype("<u2").view(np.uint8).reshape(ROWS, -1)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for qtype in (T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_K, T.Q6_K):
        raw = half_rows(qtype) if qtype in (T.F16, T.BF16) else random_blocks(qtype)
        values = dequantize(raw, qtype).astype("<f4")
        assert values.shape == (ROWS, COLS), values.shape
        name = qtype.name.lower()
        (OUT / f"{name}.blocks").write_bytes(raw.tobytes())
        (OUT / f"{name}.f32").write_bytes(values.tobytes())
        print(f"{name}: {raw.nbytes} block bytes, {values.nbytes} float bytes")


if __name__ == "__main__":
    main()
