#!/usr/bin/env python3
"""Deterministic generator of tiny random-weight checkpoints + transformers golden outputs.

Writes, for each of three fixtures (gemma3-1b-like, gemma3-4b-like, llama32-like), under
worker/engine/src/test/resources/fixtures/<name>/:

  hf-f32/config.json, hf-f32/model.safetensors     published HF layout, float32
  hf-bf16/config.json, hf-bf16/model.safetensors   same weights rounded to bfloat16 (RNE)
  model-f32.gguf, model-bf16.gguf, model-q8_0.gguf, model-q4_0.gguf
                                                  llama.cpp convert_hf_to_gguf.py conventions
  golden.json                                     transformers float32 eager outputs

Run:  /work/venv/bin/python worker/engine/src/test/python/make_fixtures.py
Rerunning on the same machine reproduces every file byte for byte (seeded numpy RNG per
tensor name, single-threaded torch, sorted JSON keys). See README.md next to this file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import transformers  # noqa: E402
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as QT  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
transformers.utils.logging.disable_progress_bar()

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "resources" / "fixtures"

N_GREEDY = 24
PROMPT_LENGTHS = (20, 35, 60)
VARIANTS = ("f32", "bf16", "q8_0", "q4_0")
GGUF_TYPES = {"f32": QT.F32, "bf16": QT.BF16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0}
# llama.cpp LlamaFileType values written as general.file_type
FILE_TYPES = {"f32": 0, "bf16": 32, "q8_0": 7, "q4_0": 2}

# --------------------------------------------------------------------------------------
# Fixture specifications
# --------------------------------------------------------------------------------------

GEMMA_1B = dict(
    name="gemma3-1b-like", arch="gemma3", seed=31001,
    hidden=64, intermediate=128, layers=7, heads=4, kv_heads=1, head_dim=32,
    vocab=256, vocab_hf=256, sliding_window=8, query_pre_attn_scalar=24,
    rope_theta=1_000_000.0, rope_local_base_freq=10_000.0, rope_scaling=None,
    rms_norm_eps=1e-6, max_pos=256, bos=2, eos=1, pad=0,
    # weight scales (tuned so logits have a healthy spread and greedy is not degenerate)
    emb_std=0.35, lin_gain=1.0, mlp_gain=3.0, norm_std=0.3,
    # final norm: w ~ N(-1, 0.3), i.e. multiplier (1 + w) ~ N(0, 0.3). With (1 + w) ~ 1 the
    # tied embedding's identity path makes random models repeat the current token forever.
    norm_mean_overrides={"model.norm.weight": -1.0},
)
GEMMA_4B = dict(
    name="gemma3-4b-like", arch="gemma3", seed=31002,
    hidden=64, intermediate=128, layers=7, heads=4, kv_heads=2, head_dim=32,
    vocab=256, vocab_hf=320, sliding_window=8, query_pre_attn_scalar=32,
    rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
    rope_scaling={"factor": 8.0, "rope_type": "linear"},
    rms_norm_eps=1e-6, max_pos=256, bos=2, eos=[1, 106], pad=0,
    boi=254, eoi=255, image_token=256, mm_tokens_per_image=4,
    vision=dict(hidden=16, intermediate=32, layers=1, heads=2, image_size=56, patch_size=14),
    emb_std=0.5, lin_gain=1.0, mlp_gain=3.0, norm_std=0.3,
    norm_mean_overrides={"model.norm.weight": -1.0},
)
LLAMA = dict(
    name="llama32-like", arch="llama", seed=31003,
    hidden=64, intermediate=128, layers=4, heads=4, kv_heads=2, head_dim=16,
    vocab=256, vocab_hf=256, rope_theta=500_000.0,
    rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    rms_norm_eps=1e-5, max_pos=256, bos=1, eos=2,
    emb_std=0.1, lin_gain=1.0, mlp_gain=3.0, norm_mean=1.0, norm_std=0.2,
)
SPECS = [GEMMA_1B, GEMMA_4B, LLAMA]


def is_gemma(spec):
    return spec["arch"] == "gemma3"


def layer_types(spec):
    # transformers' Gemma 3 rule (pattern 6): full attention on layers 5, 11, ...
    return ["sliding_attention" if (i + 1) % 6 != 0 else "full_attention" for i in range(spec["layers"])]


# --------------------------------------------------------------------------------------
# config.json, in the layout of the configs published on the HF hub
# --------------------------------------------------------------------------------------

def hf_config(spec, dtype_name):
    tv = transformers.__version__
    if spec is GEMMA_1B:
        # like google/gemma-3-1b-it (+ explicit layer_types as google/gemma-3-270m has)
        return {
            "architectures": ["Gemma3ForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "attn_logit_softcapping": None,
            "bos_token_id": spec["bos"],
            "cache_implementation": "hybrid",
            "eos_token_id": spec["eos"],
            "final_logit_softcapping": None,
            "head_dim": spec["head_dim"],
            "hidden_activation": "gelu_pytorch_tanh",
            "hidden_size": spec["hidden"],
            "initializer_range": 0.02,
            "intermediate_size": spec["intermediate"],
            "layer_types": layer_types(spec),
            "max_position_embeddings": spec["max_pos"],
            "model_type": "gemma3_text",
            "num_attention_heads": spec["heads"],
            "num_hidden_layers": spec["layers"],
            "num_key_value_heads": spec["kv_heads"],
            "pad_token_id": spec["pad"],
            "query_pre_attn_scalar": spec["query_pre_attn_scalar"],
            "rms_norm_eps": spec["rms_norm_eps"],
            "rope_local_base_freq": spec["rope_local_base_freq"],
            "rope_scaling": None,
            "rope_theta": spec["rope_theta"],
            "sliding_window": spec["sliding_window"],
            "sliding_window_pattern": 6,
            "torch_dtype": dtype_name,
            "transformers_version": tv,
            "use_cache": True,
            "vocab_size": spec["vocab_hf"],
        }
    if spec is GEMMA_4B:
        # like google/gemma-3-4b-it: text_config names only what differs from the
        # Gemma3TextConfig defaults (rope_theta 1e6, rope_local_base_freq 1e4, rms_norm_eps
        # 1e-6, gelu_pytorch_tanh, sliding_window_pattern 6, bos 2 / pad 0, tied, no softcaps).
        v = spec["vision"]
        return {
            "architectures": ["Gemma3ForConditionalGeneration"],
            "boi_token_index": spec["boi"],
            "eoi_token_index": spec["eoi"],
            "eos_token_id": spec["eos"],
            "image_token_index": spec["image_token"],
            "initializer_range": 0.02,
            "mm_tokens_per_image": spec["mm_tokens_per_image"],
            "model_type": "gemma3",
            "text_config": {
                "head_dim": spec["head_dim"],
                "hidden_size": spec["hidden"],
                "intermediate_size": spec["intermediate"],
                "max_position_embeddings": spec["max_pos"],
                "model_type": "gemma3_text",
                "num_attention_heads": spec["heads"],
                "num_hidden_layers": spec["layers"],
                "num_key_value_heads": spec["kv_heads"],
                "query_pre_attn_scalar": spec["query_pre_attn_scalar"],
                "rope_scaling": dict(spec["rope_scaling"]),
                "sliding_window": spec["sliding_window"],
                "vocab_size": spec["vocab_hf"],
            },
            "torch_dtype": dtype_name,
            "transformers_version": tv,
            "vision_config": {
                "hidden_size": v["hidden"],
                "image_size": v["image_size"],
                "intermediate_size": v["intermediate"],
                "model_type": "siglip_vision_model",
                "num_attention_heads": v["heads"],
                "num_hidden_layers": v["layers"],
                "patch_size": v["patch_size"],
                "vision_use_head": False,
            },
        }
    if spec is LLAMA:
        # like meta-llama/Llama-3.2-1B
        return {
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": spec["bos"],
            "eos_token_id": spec["eos"],
            "head_dim": spec["head_dim"],
            "hidden_act": "silu",
            "hidden_size": spec["hidden"],
            "initializer_range": 0.02,
            "intermediate_size": spec["intermediate"],
            "max_position_embeddings": spec["max_pos"],
            "mlp_bias": False,
            "model_type": "llama",
            "num_attention_heads": spec["heads"],
            "num_hidden_layers": spec["layers"],
            "num_key_value_heads": spec["kv_heads"],
            "pretraining_tp": 1,
            "rms_norm_eps": spec["rms_norm_eps"],
            "rope_scaling": dict(spec["rope_scaling"]),
            "rope_theta": spec["rope_theta"],
            "tie_word_embeddings": True,
            "torch_dtype": dtype_name,
            "transformers_version": tv,
            "use_cache": True,
            "vocab_size": spec["vocab_hf"],
        }
    raise ValueError(spec["name"])


# --------------------------------------------------------------------------------------
# Weights (published HF tensor names)
# --------------------------------------------------------------------------------------

def text_prefix(spec):
    return "language_model.model." if spec is GEMMA_4B else "model."


def weight_shapes(spec):
    """Ordered {published_name: shape} of every tensor in the published checkpoint."""
    H, I, L = spec["hidden"], spec["intermediate"], spec["layers"]
    nh, nkv, hd = spec["heads"], spec["kv_heads"], spec["head_dim"]
    p = text_prefix(spec)
    out = {p + "embed_tokens.weight": (spec["vocab_hf"], H)}
    for i in range(L):
        b = f"{p}layers.{i}."
        out[b + "input_layernorm.weight"] = (H,)
        out[b + "self_attn.q_proj.weight"] = (nh * hd, H)
        out[b + "self_attn.k_proj.weight"] = (nkv * hd, H)
        out[b + "self_attn.v_proj.weight"] = (nkv * hd, H)
        out[b + "self_attn.o_proj.weight"] = (H, nh * hd)
        if is_gemma(spec):
            out[b + "self_attn.q_norm.weight"] = (hd,)
            out[b + "self_attn.k_norm.weight"] = (hd,)
        out[b + "post_attention_layernorm.weight"] = (H,)
        if is_gemma(spec):
            out[b + "pre_feedforward_layernorm.weight"] = (H,)
            out[b + "post_feedforward_layernorm.weight"] = (H,)
        out[b + "mlp.gate_proj.weight"] = (I, H)
        out[b + "mlp.up_proj.weight"] = (I, H)
        out[b + "mlp.down_proj.weight"] = (H, I)
    out[p + "norm.weight"] = (H,)
    if spec is GEMMA_4B:
        v = spec["vision"]
        C, VI, P = v["hidden"], v["intermediate"], v["patch_size"]
        n_patches = (v["image_size"] // P) ** 2
        vp = "vision_tower.vision_model."
        out[vp + "embeddings.patch_embedding.weight"] = (C, 3, P, P)
        out[vp + "embeddings.patch_embedding.bias"] = (C,)
        out[vp + "embeddings.position_embedding.weight"] = (n_patches, C)
        for i in range(v["layers"]):
            b = f"{vp}encoder.layers.{i}."
            for ln in ("layer_norm1", "layer_norm2"):
                out[b + ln + ".weight"] = (C,)
                out[b + ln + ".bias"] = (C,)
            for pr in ("q_proj", "k_proj", "v_proj", "out_proj"):
                out[b + f"self_attn.{pr}.weight"] = (C, C)
                out[b + f"self_attn.{pr}.bias"] = (C,)
            out[b + "mlp.fc1.weight"] = (VI, C)
            out[b + "mlp.fc1.bias"] = (VI,)
            out[b + "mlp.fc2.weight"] = (C, VI)
            out[b + "mlp.fc2.bias"] = (C,)
        out[vp + "post_layernorm.weight"] = (C,)
        out[vp + "post_layernorm.bias"] = (C,)
        out["multi_modal_projector.mm_input_projection_weight"] = (C, H)
        out["multi_modal_projector.mm_soft_emb_norm.weight"] = (C,)
    return out


def tensor_rng(spec, name):
    return np.random.default_rng([spec["seed"], zlib.crc32(name.encode("utf-8"))])


def init_tensor(spec, name, shape):
    rng = tensor_rng(spec, name)
    z = rng.standard_normal(shape)  # float64, platform independent
    if name.startswith("vision_tower."):
        if "layer_norm" in name or "post_layernorm" in name:
            return (1.0 + 0.1 * z if name.endswith(".weight") else 0.02 * z).astype(np.float32)
        if name.endswith(".bias"):
            return (0.02 * z).astype(np.float32)
        fan_in = int(np.prod(shape[1:]))
        return (z / math.sqrt(fan_in)).astype(np.float32)
    if name.startswith("multi_modal_projector."):
        if name.endswith("mm_soft_emb_norm.weight"):
            return (spec["norm_std"] * z).astype(np.float32)  # Gemma (1 + w) norm
        return (z / math.sqrt(shape[0])).astype(np.float32)
    if name.endswith("embed_tokens.weight"):
        return (spec["emb_std"] * z).astype(np.float32)
    if name.endswith("norm.weight"):
        if is_gemma(spec):
            mean = 0.0
            for suffix, m in spec.get("norm_mean_overrides", {}).items():
                if name.endswith(suffix):
                    mean = m
            return (mean + spec["norm_std"] * z).astype(np.float32)  # used as (1 + w)
        return (spec["norm_mean"] + spec["norm_std"] * z).astype(np.float32)
    # linear layers [out, in]
    gain = spec["lin_gain"]
    if ".mlp." in name:
        gain = spec.get("mlp_gain", gain)
    if "self_attn." in name:
        gain = spec.get("attn_gain", gain)
    return (gain * z / math.sqrt(shape[1])).astype(np.float32)


def make_weights(spec):
    shapes = weight_shapes(spec)
    w = {name: init_tensor(spec, name, shape) for name, shape in shapes.items()}
    if spec["vocab_hf"] > spec["vocab"]:
        # Google's converter pads the 4B/12B vocab with rows drawn from
        # N(mean(E), 1e-5 * cov(E)) of the real rows (transformers' mean_resizing).
        name = text_prefix(spec) + "embed_tokens.weight"
        n_real, n_pad = spec["vocab"], spec["vocab_hf"] - spec["vocab"]
        e = w[name][:n_real].astype(np.float64)
        mu = e.mean(axis=0)
        sigma = (e - mu).T @ (e - mu) / n_real
        chol = np.linalg.cholesky(1e-5 * sigma)
        z = tensor_rng(spec, name + "#pad").standard_normal((n_pad, e.shape[1]))
        pad = (mu + z @ chol.T).astype(np.float32)
        w[name] = np.concatenate([w[name][:n_real], pad], axis=0)
    return w


def round_bf16(a: np.ndarray) -> np.ndarray:
    return torch.from_numpy(np.ascontiguousarray(a)).to(torch.bfloat16).to(torch.float32).numpy()


def quant_roundtrip(a: np.ndarray, qt) -> np.ndarray:
    return gguf.quants.dequantize(gguf.quants.quantize(a, qt), qt).reshape(a.shape).astype(np.float32)


def is_text_matrix(spec, name, arr):
    return arr.ndim == 2 and name.startswith(text_prefix(spec))


def variant_weights(spec, w32, variant):
    """Weights whose float32 values are exactly what the matching file holds."""
    if variant == "f32":
        return w32
    if variant == "bf16":
        return {k: round_bf16(v) for k, v in w32.items()}
    qt = GGUF_TYPES[variant]
    # 2-D text weights are quantized (row-wise blocks of 32 along the input dim, so
    # trimming/permuting rows commutes with quantization); 1-D tensors stay F32.
    return {k: (quant_roundtrip(v, qt) if is_text_matrix(spec, k, v) else v) for k, v in w32.items()}


# --------------------------------------------------------------------------------------
# Tokenizer vocabularies (tiny but valid; trained by a deterministic BPE on CORPUS)
# --------------------------------------------------------------------------------------

CORPUS = """The engine reads a model file, maps the weights into memory and runs the layers one
after another. Each layer normalizes its input, mixes the tokens with attention and then
passes every position through a small feed forward network. The attention keys and values
of earlier positions are kept in a cache, so that a new token only needs one pass through
the network. Local layers look at a short window of recent tokens, while global layers see
the whole context. Rotary position embeddings turn each pair of channels by an angle that
grows with the position; the base of the rotation differs between local and global layers.
When the weights are stored with eight or four bits, every block of thirty two numbers has
its own scale, and the engine multiplies the scale back in while it computes the dot
products. A careful test compares the logits of the engine with those of the reference at
every position of several prompts, and then checks that greedy decoding picks the same
tokens for twenty four steps. If the numbers agree to within a few parts in a hundred
thousand, the engine is probably right; if they do not, the first layer that differs tells
where to look. Small random models are good for this: they are quick to load, they fit in a
repository, and they still have the real structure of the large ones. The tokenizer turns
text into numbers and back again, merging frequent pairs of characters into longer pieces.
Questions, answers, notes and stories: 1, 2, 3, 10, 42, 100, 2024 (and more) - all of them
become tokens! Is it fast? Yes; it is fast enough for a test that runs on every change."""

GEMMA_BASE = (["\u2581", "\n"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
              + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [str(d) for d in range(10)]
              + list(".,!?;:'\"()-"))
LLAMA_SPECIALS = ["<|reserved_special_token_0|>", "<|begin_of_text|>", "<|end_of_text|>",
                  "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
LLAMA_BASE = ["\u0120", "\u010a"] + [chr(c) for c in range(0x21, 0x7F)]  # GPT-2 bytes for ' ', '\n', '!'..'~'


def train_bpe(words: Counter, n_merges: int):
    words = Counter({tuple(k): v for k, v in words.items()})
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            raise RuntimeError("corpus too small for the requested number of merges")
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        new = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    return merges


def gemma_vocab(spec):
    """SentencePiece-style vocab as llama.cpp writes it (tokenizer.ggml.model = "llama")."""
    n = spec["vocab"]
    control = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>", 4: "<mask>",
               105: "<start_of_turn>", 106: "<end_of_turn>",
               254: "<start_of_image>", 255: "<end_of_image>"}
    words = Counter()
    for li, line in enumerate(CORPUS.split("\n")):
        text = line if li == 0 else " " + line  # join lines with spaces, as one paragraph
        for m in re.finditer(r" ?[^ ]+", text):
            words[m.group(0).replace(" ", "\u2581")] += 1
    n_normal = n - len(control)
    merges = train_bpe(words, n_normal - len(GEMMA_BASE))
    pieces = ["".join(m) for m in merges]
    assert len(set(pieces) | set(GEMMA_BASE)) == n_normal, "duplicate pieces"
    normal = pieces + GEMMA_BASE  # SentencePiece order: merged pieces by score, then characters
    tokens, scores, types = [], [], []
    it = iter(range(len(normal)))
    for tid in range(n):
        if tid in control:
            tokens.append(control[tid]); scores.append(-1000.0); types.append(3)
        else:
            k = next(it)
            tokens.append(normal[k]); scores.append(float(-k)); types.append(1)
    return tokens, scores, types


def llama_vocab(spec):
    """Byte-level BPE vocab as llama.cpp writes it for Llama 3 (tokenizer.ggml.model = "gpt2")."""
    n = spec["vocab"]
    words = Counter()
    text = CORPUS.replace("\n", " ")
    for m in re.finditer(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+|\s+", text):
        words[m.group(0).replace(" ", "\u0120").replace("\n", "\u010a")] += 1
    n_merges = n - len(LLAMA_SPECIALS) - len(LLAMA_BASE)
    merges = train_bpe(words, n_merges)
    pieces = ["".join(m) for m in merges]
    assert len(set(pieces) | set(LLAMA_BASE)) == len(pieces) + len(LLAMA_BASE)
    tokens = [LLAMA_SPECIALS[0], LLAMA_SPECIALS[1], LLAMA_SPECIALS[2]] + LLAMA_BASE + pieces + LLAMA_SPECIALS[3:]
    assert len(tokens) == n
    types = [3 if t in LLAMA_SPECIALS else 1 for t in tokens]
    return tokens, types, [f"{a} {b}" for a, b in merges]


# --------------------------------------------------------------------------------------
# GGUF (llama.cpp convert_hf_to_gguf.py conventions)
# --------------------------------------------------------------------------------------

def gemma_gguf_tensors(spec, w):
    p = text_prefix(spec)
    out = [("token_embd.weight", w[p + "embed_tokens.weight"][: spec["vocab"]])]  # trim OOV rows
    names = {
        "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
        "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "post_attention_norm",
        "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    }
    for i in range(spec["layers"]):
        for hf, gg in names.items():
            out.append((f"blk.{i}.{gg}.weight", w[f"{p}layers.{i}.{hf}.weight"]))
    out.append(("output_norm.weight", w[p + "norm.weight"]))
    # Gemma3Model.modify_tensors: every *norm.weight gets +1 (in float32)
    return [(n, (t.astype(np.float32) + np.float32(1.0)) if n.endswith("norm.weight") else t) for n, t in out]


def llama_permute(wt, n_head):
    return (wt.reshape(n_head, 2, wt.shape[0] // n_head // 2, *wt.shape[1:])
            .swapaxes(1, 2).reshape(wt.shape))


def llama3_rope_factors(spec):
    """LlamaModel.generate_extra_tensors: rope_freqs.weight divisors (float32)."""
    rs = spec["rope_scaling"]
    base, dim = spec["rope_theta"], spec["head_dim"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    # NB: llama.cpp reads original_max_position_embeddings from the top level of config.json
    # (default 8192), not from rope_scaling; both are 8192 here so the two agree.
    old = 8192
    assert rs["original_max_position_embeddings"] == old
    lo_w, hi_w = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < hi_w:
            out.append(1)
        elif wl > lo_w:
            out.append(factor)
        else:
            s = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - s) / factor + s))
    return torch.tensor(out, dtype=torch.float32).numpy()


def llama_gguf_tensors(spec, w):
    nh, nkv = spec["heads"], spec["kv_heads"]
    out = [("rope_freqs.weight", llama3_rope_factors(spec)),
           ("token_embd.weight", w["model.embed_tokens.weight"])]
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    for i in range(spec["layers"]):
        for hf, gg in names.items():
            t = w[f"model.layers.{i}.{hf}.weight"]
            if hf == "self_attn.q_proj":
                t = llama_permute(t, nh)
            elif hf == "self_attn.k_proj":
                t = llama_permute(t, nkv)
            out.append((f"blk.{i}.{gg}.weight", t))
    out.append(("output_norm.weight", w["model.norm.weight"]))
    return out


def write_gguf(spec, variant, w, path):
    arch = spec["arch"]
    wr = gguf.GGUFWriter(str(path), arch)
    wr.add_type("model")
    wr.add_name(spec["name"])
    wr.add_context_length(spec["max_pos"])
    wr.add_embedding_length(spec["hidden"])
    wr.add_block_count(spec["layers"])
    wr.add_feed_forward_length(spec["intermediate"])
    wr.add_head_count(spec["heads"])
    wr.add_head_count_kv(spec["kv_heads"])
    wr.add_key_length(spec["head_dim"])
    wr.add_value_length(spec["head_dim"])
    wr.add_layer_norm_rms_eps(spec["rms_norm_eps"])
    wr.add_rope_freq_base(spec["rope_theta"])
    if is_gemma(spec):
        wr.add_sliding_window(spec["sliding_window"])
        if spec["rope_scaling"] and spec["rope_scaling"]["rope_type"] == "linear":
            wr.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            wr.add_rope_scaling_factor(spec["rope_scaling"]["factor"])
        if spec["query_pre_attn_scalar"] != spec["head_dim"]:
            # NOT written by llama.cpp (its gemma3 graph hard-codes 1/sqrt(key_length) except
            # for 27B). Written here because this fixture's query_pre_attn_scalar differs from
            # head_dim; engines should use it when present, else 1/sqrt(key_length).
            wr.add_attention_scale(float(spec["query_pre_attn_scalar"]) ** -0.5)
    else:
        wr.add_vocab_size(spec["vocab"])
        wr.add_rope_dimension_count(spec["head_dim"])
    wr.add_file_type(FILE_TYPES[variant])
    wr.add_quantization_version(gguf.GGML_QUANT_VERSION)

    if is_gemma(spec):
        tokens, scores, types = gemma_vocab(spec)
        wr.add_tokenizer_model("llama")
        wr.add_tokenizer_pre("default")
        wr.add_token_list(tokens)
        wr.add_token_scores(scores)
        wr.add_token_types(types)
        wr.add_bos_token_id(spec["bos"])
        wr.add_eos_token_id(1)
        wr.add_unk_token_id(3)
        wr.add_pad_token_id(spec["pad"])
        wr.add_add_bos_token(True)
        wr.add_add_eos_token(False)
        wr.add_add_space_prefix(False)
        tensors = gemma_gguf_tensors(spec, w)
    else:
        tokens, types, merges = llama_vocab(spec)
        wr.add_tokenizer_model("gpt2")
        wr.add_tokenizer_pre("llama-bpe")
        wr.add_token_list(tokens)
        wr.add_token_types(types)
        wr.add_token_merges(merges)
        wr.add_bos_token_id(spec["bos"])
        wr.add_eos_token_id(spec["eos"])
        wr.add_add_bos_token(True)
        tensors = llama_gguf_tensors(spec, w)

    qt = GGUF_TYPES[variant]
    for name, t in tensors:
        t = np.ascontiguousarray(t, dtype=np.float32)
        if t.ndim == 1 or qt == QT.F32:
            wr.add_tensor(name, t)  # 1-D tensors (norms, rope_freqs) are always F32
        else:
            wr.add_tensor(name, gguf.quants.quantize(t, qt), raw_dtype=qt)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return tensors


# --------------------------------------------------------------------------------------
# HF checkpoints and golden outputs
# --------------------------------------------------------------------------------------

def save_hf(spec, w, dirpath, dtype_name):
    dirpath.mkdir(parents=True, exist_ok=True)
    tdt = torch.bfloat16 if dtype_name == "bfloat16" else torch.float32
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)).to(tdt).contiguous() for k, v in sorted(w.items())}
    safetensors.torch.save_file(sd, str(dirpath / "model.safetensors"), metadata={"format": "pt"})
    write_json(dirpath / "config.json", hf_config(spec, dtype_name), indent=2)


def load_hf(spec, dirpath, config_override=None):
    kw = dict(dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    if config_override is not None:
        kw["config"] = config_override
    cls = (transformers.Gemma3ForConditionalGeneration if spec is GEMMA_4B
           else transformers.AutoModelForCausalLM)
    model, info = cls.from_pretrained(str(dirpath), **kw)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise RuntimeError(f"{spec['name']}: loading {dirpath} reported {bad}")
    model.eval()
    return model


@torch.no_grad()
def logits_of(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=x).logits[0].float().numpy()


def topk_rows(logits, k=10, limit=None):
    if limit is not None:
        logits = logits[:, :limit]
    rows, margins = [], []
    for row in logits:
        order = np.lexsort((np.arange(row.shape[0]), -row))  # by logit desc, then id asc
        rows.append([[int(i), np.float32(row[i])] for i in order[:k]])
        margins.append(np.float32(row[order[0]] - row[order[1]]))
    return rows, margins


@torch.no_grad()
def greedy_generate(model, ids):
    # EOS must not stop generation: transformers merges the model's generation_config (whose
    # eos_token_id comes from config.json) into the one passed, so clear it on the model too.
    model.generation_config.eos_token_id = None
    gc = transformers.GenerationConfig(max_new_tokens=N_GREEDY, min_new_tokens=N_GREEDY, do_sample=False,
                                       eos_token_id=None, pad_token_id=0, use_cache=True)
    out = model.generate(torch.tensor([ids], dtype=torch.long), generation_config=gc)
    if out.shape[1] != len(ids) + N_GREEDY:
        raise RuntimeError(f"generate returned {out.shape[1] - len(ids)} tokens")
    return [int(t) for t in out[0, len(ids):]]


@torch.no_grad()
def greedy_manual(model, ids, n, limit=None):
    """Argmax loop with a full recompute per step; returns tokens, margins and the top10 of each step."""
    seq, margins, tops = list(ids), [], []
    for _ in range(n):
        lg = logits_of(model, seq)[-1:]
        top, m = topk_rows(lg, limit=limit)
        seq.append(top[0][0][0])
        margins.append(m[0])
        tops.append(top[0])
    return seq[len(ids):], margins, tops


def max_run(seq):
    best = cur = 1
    for a, b in zip(seq, seq[1:]):
        cur = cur + 1 if a == b else 1
        best = max(best, cur)
    return best


MIN_DISTINCT, MAX_RUN, MIN_GREEDY_MARGIN, MAX_CANDIDATES = 8, 4, 2e-3, 400


def select_prompts(spec, models):
    """For each length, the first seeded candidate whose greedy continuation (in every weight
    variant) has >= MIN_DISTINCT distinct tokens, no run longer than MAX_RUN, every greedy
    margin >= MIN_GREEDY_MARGIN and no control/EOS id (so an engine may stop on EOS); for the
    padded-vocab fixture it must also equal the greedy continuation restricted to the real
    vocabulary. Candidates: BOS + ids drawn uniformly from 4..vocab-1 (the real vocabulary
    minus the control ids pad/eos/bos/unk)."""
    eos = spec["eos"] if isinstance(spec["eos"], list) else [spec["eos"]]
    stop_ids = {0, 1, 2, 3, spec["bos"], *eos}  # control ids never appear in the greedy output
    prompts, picks = [], []
    for n in PROMPT_LENGTHS:
        best = None
        for c in range(MAX_CANDIDATES):
            rng = np.random.default_rng([spec["seed"], zlib.crc32(b"prompts"), n, c])
            ids = [spec["bos"]] + [int(t) for t in rng.integers(4, spec["vocab"], size=n - 1)]
            for m in models.values():
                g, gm, _ = greedy_manual(m, ids, N_GREEDY)
                ok = (len(set(g)) >= MIN_DISTINCT and max_run(g) <= MAX_RUN and min(gm) >= MIN_GREEDY_MARGIN
                      and not (set(g) & stop_ids))
                if spec["vocab_hf"] > spec["vocab"]:
                    gt, _, _ = greedy_manual(m, ids, N_GREEDY, limit=spec["vocab"])
                    ok = ok and gt == g
                if not ok:
                    break
            else:
                best = (c, ids)
                break
        if best is None:
            raise RuntimeError(f"{spec['name']}: no prompt of length {n} met the greedy criteria")
        prompts.append(best[1])
        picks.append(best[0])
    return prompts, picks


def golden_for_model(spec, model, prompts):
    out = []
    for ids in prompts:
        lg = logits_of(model, ids)
        top, margins = topk_rows(lg)
        greedy, gmargins, gtops = greedy_manual(model, ids, N_GREEDY)
        gen = greedy_generate(model, ids)
        if gen != greedy:
            raise RuntimeError(f"{spec['name']}: model.generate {gen} != argmax loop {greedy}")
        rec = {"top10": top, "margins": margins, "greedy": greedy, "greedy_margins": gmargins,
               "greedy_top10": gtops}
        if spec["vocab_hf"] > spec["vocab"]:
            top_t, margins_t = topk_rows(lg, limit=spec["vocab"])
            greedy_t, gm_t, gtops_t = greedy_manual(model, ids, N_GREEDY, limit=spec["vocab"])
            rec.update(top10_text=top_t, margins_text=margins_t, greedy_text=greedy_t,
                       greedy_text_margins=gm_t, greedy_text_top10=gtops_t)
        out.append(rec)
    return out


def sensitivity(spec, model_dir, base_model, w32, prompts, tmp):
    """Max |logit difference| (first `vocab` ids, all prompt positions) of common mistakes."""
    base = [logits_of(base_model, ids)[:, : spec["vocab"]] for ids in prompts]

    def diff(model):
        d, flips = 0.0, 0
        for ids, b in zip(prompts, base):
            lg = logits_of(model, ids)[:, : spec["vocab"]]
            d = max(d, float(np.abs(lg - b).max()))
            flips += int((lg.argmax(-1) != b.argmax(-1)).sum())
        return {"max_abs_logit_diff": np.float32(d), "argmax_changes": flips}

    def with_config(mutate):
        cfg = transformers.AutoConfig.from_pretrained(str(model_dir))
        tc = cfg.text_config if spec is GEMMA_4B else cfg
        mutate(tc)
        return diff(load_hf(spec, model_dir, config_override=cfg))

    res = {}
    if is_gemma(spec):
        W = spec["sliding_window"]
        res["sliding_window_ignored"] = with_config(lambda c: setattr(c, "sliding_window", 4096))
        res["sliding_window_plus_1"] = with_config(lambda c: setattr(c, "sliding_window", W + 1))
        res["sliding_window_minus_1"] = with_config(lambda c: setattr(c, "sliding_window", W - 1))

        def local_base_global(c):
            c.rope_parameters["sliding_attention"]["rope_theta"] = spec["rope_theta"]
        res["local_layers_use_global_rope_base"] = with_config(local_base_global)

        def global_base_local(c):
            c.rope_parameters["full_attention"]["rope_theta"] = spec["rope_local_base_freq"]
        res["global_layers_use_local_rope_base"] = with_config(global_base_local)
        if spec["query_pre_attn_scalar"] != spec["head_dim"]:
            res["attn_scale_1_over_sqrt_head_dim"] = with_config(
                lambda c: setattr(c, "query_pre_attn_scalar", spec["head_dim"]))
        if spec["rope_scaling"]:
            def no_scaling(c):
                c.rope_parameters["full_attention"] = {"rope_type": "default", "rope_theta": spec["rope_theta"]}
            res["linear_rope_scaling_ignored"] = with_config(no_scaling)

            def scale_all(c):
                c.rope_parameters["sliding_attention"] = {"rope_type": "linear", "factor": spec["rope_scaling"]["factor"],
                                                          "rope_theta": spec["rope_local_base_freq"]}
            res["linear_rope_scaling_on_local_layers_too"] = with_config(scale_all)
        # engine forgetting Gemma's (1 + w): equivalent to HF with w - 1
        wrong = {k: (v - np.float32(1.0) if k.endswith("norm.weight") and not k.startswith("vision_tower.") else v)
                 for k, v in w32.items()}
        d = tmp / "norm_without_plus_one"
        save_hf(spec, wrong, d, "float32")
        res["norm_weight_without_plus_one"] = diff(load_hf(spec, d))
    else:
        def no_scaling(c):
            c.rope_parameters = {"rope_type": "default", "rope_theta": spec["rope_theta"]}
        res["llama3_rope_scaling_ignored"] = with_config(no_scaling)
    return res


# --------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------

def fmt_scalar(v):
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, np.float32):
        s = str(v)  # shortest repr that round-trips through float32
        if not np.isfinite(v):
            raise ValueError("non-finite value")
        return s
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return json.dumps(v, ensure_ascii=False)


def dumps(obj, indent=1, level=0):
    """Deterministic JSON: sorted keys; lists of scalars / [id, logit] pairs on one line."""
    pad, pad1 = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(str(k))}: {dumps(obj[k], indent, level + 1)}" for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        flat = all(not isinstance(x, (dict, list, tuple)) for x in obj)
        pairs = all(isinstance(x, (list, tuple)) and all(not isinstance(y, (dict, list, tuple)) for y in x) for x in obj)
        if flat:
            return "[" + ", ".join(fmt_scalar(x) for x in obj) + "]"
        if pairs and obj and len(obj[0]) <= 2:
            return "[" + ", ".join("[" + ", ".join(fmt_scalar(y) for y in x) + "]" for x in obj) + "]"
        return "[\n" + ",\n".join(pad1 + dumps(x, indent, level + 1) for x in obj) + "\n" + pad + "]"
    return fmt_scalar(obj)


def write_json(path, obj, indent=1):
    Path(path).write_text(dumps(obj, indent) + "\n", encoding="utf-8")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------

def check_gguf_readback(spec, variant, path, tensors):
    r = gguf.GGUFReader(str(path))
    qt = GGUF_TYPES[variant]
    by_name = {t.name: t for t in r.tensors}
    assert list(by_name) == [n for n, _ in tensors], "tensor order/names differ"
    for name, src in tensors:
        t = by_name[name]
        # GGUF dims: ne[0] (fastest varying = input dim) first
        assert [int(x) for x in t.shape] == list(reversed(src.shape)), (name, t.shape, src.shape)
        want_type = QT.F32 if (src.ndim == 1 or qt == QT.F32) else qt
        assert t.tensor_type == want_type, (name, t.tensor_type, want_type)
        got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(src.shape)
        ref = src if want_type == QT.F32 else quant_roundtrip(src, want_type)
        assert np.array_equal(got, ref), name
    f = r.fields
    assert f["general.architecture"].contents() == spec["arch"]
    assert f["general.file_type"].contents() == FILE_TYPES[variant]
    names = [n for n, _ in tensors]
    assert "output.weight" not in names
    if is_gemma(spec):
        assert by_name["blk.0.attn_q.weight"].shape.tolist() == [spec["hidden"], spec["heads"] * spec["head_dim"]]
        assert int(by_name["token_embd.weight"].shape[1]) == spec["vocab"]


def check_config_roundtrip(spec, model):
    cfg = model.config.text_config if spec is GEMMA_4B else model.config
    if is_gemma(spec):
        assert list(cfg.layer_types) == layer_types(spec), cfg.layer_types
        assert cfg.sliding_window == spec["sliding_window"]
        assert cfg.query_pre_attn_scalar == spec["query_pre_attn_scalar"]
        rp = cfg.rope_parameters
        assert rp["sliding_attention"]["rope_theta"] == spec["rope_local_base_freq"], rp
        assert rp["sliding_attention"]["rope_type"] == "default", rp
        assert rp["full_attention"]["rope_theta"] == spec["rope_theta"], rp
        want = spec["rope_scaling"]["rope_type"] if spec["rope_scaling"] else "default"
        assert rp["full_attention"]["rope_type"] == want, rp
        assert cfg.rms_norm_eps == spec["rms_norm_eps"] and cfg.hidden_activation == "gelu_pytorch_tanh"
        assert cfg.final_logit_softcapping is None and cfg.attn_logit_softcapping is None
    else:
        assert cfg.rope_parameters["rope_type"] == "llama3", cfg.rope_parameters
    assert cfg.vocab_size == spec["vocab_hf"]
    assert cfg.tie_word_embeddings


def rope_inv_freq(spec, model):
    lm = model.model.language_model if spec is GEMMA_4B else model.model
    re_ = lm.rotary_emb
    if is_gemma(spec):
        return {t: [np.float32(x) for x in getattr(re_, f"{t}_inv_freq").tolist()]
                for t in ("sliding_attention", "full_attention")}
    return {"all_layers": [np.float32(x) for x in re_.inv_freq.tolist()]}


def check_not_degenerate(spec, golden):
    for vname, recs in golden.items():
        for pi, rec in enumerate(recs):
            g = rec["greedy"]
            if len(set(g)) < 6:
                raise RuntimeError(f"{spec['name']} {vname} prompt {pi}: degenerate greedy {g}")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def config_summary(spec):
    s = {
        "architecture": hf_config(spec, "float32")["architectures"][0],
        "gguf_architecture": spec["arch"],
        "hidden_size": spec["hidden"], "intermediate_size": spec["intermediate"],
        "num_hidden_layers": spec["layers"], "num_attention_heads": spec["heads"],
        "num_key_value_heads": spec["kv_heads"], "head_dim": spec["head_dim"],
        "vocab_size_hf": spec["vocab_hf"], "vocab_size_gguf": spec["vocab"],
        "rms_norm_eps": spec["rms_norm_eps"], "rope_theta": spec["rope_theta"],
        "rope_scaling": spec["rope_scaling"], "max_position_embeddings": spec["max_pos"],
        "bos_token_id": spec["bos"], "eos_token_id": spec["eos"], "tie_word_embeddings": True,
    }
    if is_gemma(spec):
        s.update(
            layer_types=layer_types(spec), sliding_window=spec["sliding_window"],
            sliding_window_semantics="position q attends to keys k with q - W < k <= q (W keys incl. itself)",
            rope_local_base_freq=spec["rope_local_base_freq"],
            rope_scaling_applies_to="full_attention layers only" if spec["rope_scaling"] else None,
            query_pre_attn_scalar=spec["query_pre_attn_scalar"],
            attention_scale=float(spec["query_pre_attn_scalar"]) ** -0.5,
            embed_scale=math.sqrt(spec["hidden"]), hidden_activation="gelu_pytorch_tanh",
            norm="x * rsqrt(mean(x^2) + eps) * (1 + w)   (GGUF stores 1 + w)",
            pad_token_id=spec["pad"], rope_pairing="NEOX / rotate_half: (j, j + head_dim/2), in HF and GGUF",
        )
    else:
        s.update(
            hidden_activation="silu", attention_scale=float(spec["head_dim"]) ** -0.5,
            norm="x * rsqrt(mean(x^2) + eps) * w",
            rope_pairing="HF: rotate_half (j, j + head_dim/2); GGUF: Q/K rows permuted -> interleaved (2j, 2j+1)",
            rope_freqs_gguf=[np.float32(x) for x in llama3_rope_factors(spec)],
        )
    if spec is GEMMA_4B:
        s.update(image_token_index=spec["image_token"], boi_token_index=spec["boi"], eoi_token_index=spec["eoi"],
                 padded_vocab_rows="ids 256..319: mean(E) + N(0, 1e-5 cov(E)); trimmed from GGUF token_embd")
    return s


def build_fixture(spec, tmp_root):
    name = spec["name"]
    out = FIXTURES / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix=name + "-", dir=tmp_root))

    w32 = make_weights(spec)
    weights = {v: variant_weights(spec, w32, v) for v in VARIANTS}

    # HF checkpoints (published layout)
    save_hf(spec, w32, out / "hf-f32", "float32")
    save_hf(spec, weights["bf16"], out / "hf-bf16", "bfloat16")
    model_dirs = {"f32": out / "hf-f32", "bf16": out / "hf-bf16"}
    for v in ("q8_0", "q4_0"):
        model_dirs[v] = tmp / f"hf-{v}"
        save_hf(spec, weights[v], model_dirs[v], "float32")

    # GGUF files
    for v in VARIANTS:
        src = weights["bf16"] if v == "bf16" else w32  # bf16 GGUF is converted from the bf16 checkpoint
        path = out / f"model-{v}.gguf"
        tensors = write_gguf(spec, v, src, path)
        check_gguf_readback(spec, v, path, tensors)

    models = {}
    for v in VARIANTS:
        model = load_hf(spec, model_dirs[v])
        check_config_roundtrip(spec, model)
        # loaded weights must be exactly the variant's weights
        sd = model.state_dict()
        emb = sd["model.language_model.embed_tokens.weight" if spec is GEMMA_4B else "model.embed_tokens.weight"]
        assert np.array_equal(emb.numpy(), weights[v][text_prefix(spec) + "embed_tokens.weight"])
        models[v] = model
    prompts, picks = select_prompts(spec, models)
    golden, info = {}, {}
    for v in VARIANTS:
        golden[v] = golden_for_model(spec, models[v], prompts)
    info["rope_inv_freq_hf"] = rope_inv_freq(spec, models["f32"])
    info["sensitivity"] = sensitivity(spec, model_dirs["f32"], models["f32"], w32, prompts, tmp)
    check_not_degenerate(spec, golden)

    doc = {
        "fixture": name,
        "produced_by": {
            "script": "worker/engine/src/test/python/make_fixtures.py",
            "python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__,
            "safetensors": safetensors.__version__, "gguf": _gguf_version(),
            "attn_implementation": "eager", "compute_dtype": "float32", "seed": spec["seed"],
            "greedy": f"{N_GREEDY} tokens, argmax (ties -> lowest id), EOS does not stop; equals "
                      "model.generate(do_sample=False, eos_token_id=None)",
        },
        "config": config_summary(spec),
        "prompts": prompts,
        "prompt_selection": {
            "rule": f"per length, first candidate c = 0, 1, ... (ids = BOS + uniform 4..{spec['vocab'] - 1}, "
                    f"numpy default_rng([seed, crc32('prompts'), length, c])) whose greedy continuation in "
                    f"every variant has >= {MIN_DISTINCT} distinct tokens, no run > {MAX_RUN}, all greedy "
                    f"margins >= {MIN_GREEDY_MARGIN}, no control or EOS id" + (", and equals greedy_text" if spec["vocab_hf"] > spec["vocab"] else ""),
            "candidates_used": picks,
        },
        "variants": {
            v: {"weights": _variant_doc(v), "prompts": golden[v]} for v in VARIANTS
        },
        "rope_inv_freq_hf": info["rope_inv_freq_hf"],
        "sensitivity": info["sensitivity"],
        "files": {str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256": sha256(p)}
                  for p in sorted(out.rglob("*")) if p.is_file() and p.name != "golden.json"},
    }
    write_json(out / "golden.json", doc)
    shutil.rmtree(tmp)
    return doc


def _variant_doc(v):
    return {
        "f32": "float32 master weights (hf-f32/, model-f32.gguf)",
        "bf16": "master weights rounded to bfloat16 (RNE), upcast to float32 (hf-bf16/, model-bf16.gguf)",
        "q8_0": "2-D text weights = ggml dequantization of Q8_0(master f32); 1-D weights f32 (model-q8_0.gguf)",
        "q4_0": "2-D text weights = ggml dequantization of Q4_0(master f32); 1-D weights f32 (model-q4_0.gguf)",
    }[v]


def _gguf_version():
    try:
        from importlib.metadata import version
        return version("gguf")
    except Exception:  # pragma: no cover
        return "unknown"


def main():
    only = set(sys.argv[1:])
    FIXTURES.mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(prefix="shardlight-fixtures-"))
    try:
        for spec in SPECS:
            if only and spec["name"] not in only:
                continue
            doc = build_fixture(spec, tmp_root)
            f32 = doc["variants"]["f32"]["prompts"]
            ms = np.concatenate([np.array(r["margins"], dtype=np.float64) for r in f32])
            print(f"{spec['name']}: margins min {ms.min():.4f} median {np.median(ms):.3f} "
                  f"frac>0.05 {np.mean(ms > 0.05):.2f}; greedy[0] {f32[0]['greedy']}")
            for k, v in doc["sensitivity"].items():
                print(f"   sensitivity {k}: {float(v['max_abs_logit_diff']):.4g} ({v['argmax_changes']} argmax changes)")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"fixtures total: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
