#!/usr/bin/env python3
"""Transformers' label log-likelihoods on the committed fixture checkpoints (intent routing oracle).

For gemma3-1b-like and llama32-like (their hf-f32 directories, written by make_fixtures.py), and
for two classification prompts each (the golden prompts of 35 and 60 tokens, so the 60-token one
runs past Gemma's sliding window of 8 many times), scores four label continuations of 1, 2, 3 and
5 tokens: log P(label | prompt) = sum_i log_softmax(logits[len(prompt) - 1 + i])[label[i]], each
label computed in its own full forward pass over prompt + label (no KV-cache reuse, so this is
independent of how the engine shares the prompt's cache).

Writes worker/engine/src/test/resources/fixtures/labels.json:
  {"produced_by": {...}, "cases": [{"fixture", "prompt": [ids], "labels": [[ids] x4],
    "token_logprobs": [[float per label token] x4], "log_likelihoods": [float x4]}]}

Run:  /work/venv/bin/python worker/engine/src/test/python/make_label_fixtures.py
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "resources" / "fixtures"
OUT = FIXTURES / "labels.json"

# Label token ids: distinct first tokens, lengths 1, 2, 3 and 5 (a label sharing its first token
# with another would make them differ only from the second token on; both cases are covered by
# LABELS_SHARED_PREFIX).
LABELS = [[17], [40, 41], [200, 9, 77], [5, 6, 7, 8, 120]]
LABELS_SHARED_PREFIX = [[40], [40, 41], [40, 99, 3]]


def load(fixture):
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(FIXTURES / fixture / "hf-f32"), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


@torch.no_grad()
def label_logprobs(model, prompt, label):
    ids = torch.tensor([prompt + label], dtype=torch.long)
    logits = model(input_ids=ids).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return [float(lp[len(prompt) - 1 + i, t]) for i, t in enumerate(label)]


def main():
    cases = []
    for fixture in ("gemma3-1b-like", "llama32-like"):
        golden = json.loads((FIXTURES / fixture / "golden.json").read_text())
        model = load(fixture)
        for prompt_index, labels in ((1, LABELS), (2, LABELS), (1, LABELS_SHARED_PREFIX)):
            prompt = golden["prompts"][prompt_index]
            per_token = [label_logprobs(model, prompt, lab) for lab in labels]
            cases.append({
                "fixture": fixture,
                "prompt": prompt,
                "labels": labels,
                "token_logprobs": per_token,
                "log_likelihoods": [float(np.sum(t)) for t in per_token],
            })
            print(fixture, len(prompt), [round(c, 4) for c in cases[-1]["log_likelihoods"]])
    out = {
        "produced_by": {
            "script": "worker/engine/src/test/python/make_label_fixtures.py",
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "attn_implementation": "eager",
            "compute_dtype": "float32 (log_softmax in float64)",
        },
        "cases": cases,
    }
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print("wrote", OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    sys.exit(main())
