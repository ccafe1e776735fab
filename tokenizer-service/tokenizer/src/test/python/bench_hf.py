#!/usr/bin/env python3
"""The Hugging Face tokenizers side of bench.sh: load time and single-thread encode throughput.

    bench_hf.py TOKENIZER_DIR CORPUS.jsonl [SECONDS]

encode_batch runs in Rust without the Python loop; RAYON_NUM_THREADS=1 (set by bench.sh) keeps it
on one thread, so the number is the Rust library's own single-thread speed.
"""
import json
import os
import statistics
import sys
import time

from tokenizers import Tokenizer


def main():
    path, corpus = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    with open(corpus, encoding="utf-8") as f:
        lines = [json.loads(l) for l in f]
    t0 = time.perf_counter()
    c0 = time.process_time()
    tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    load = time.perf_counter() - t0
    load_cpu = time.process_time() - c0
    nbytes = sum(len(s.encode("utf-8")) for s in lines)
    for _ in range(3):
        tok.encode_batch(lines, add_special_tokens=False)
    passes = []
    tokens = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        p0 = time.perf_counter()
        enc = tok.encode_batch(lines, add_special_tokens=False)
        passes.append(time.perf_counter() - p0)
        tokens = sum(len(e.ids) for e in enc)
    median = statistics.median(passes)
    print(f"hf-tokenizers {os.path.basename(path.rstrip('/')):<10} load {load * 1e3:.0f} ms (process cpu {load_cpu * 1e3:.0f} ms); {len(lines)} lines, "
          f"{nbytes / median / 1e6:.2f} MB/s (median pass {median * 1e3:.1f} ms, {len(passes)} passes), "
          f"{tokens / median:.0f} tokens/s")


if __name__ == "__main__":
    main()
