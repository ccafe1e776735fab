#!/usr/bin/env python3
"""Independent numpy (float64) forward pass over the fixture files, checked against golden.json.

This is the executable statement of the conventions the Java engine must follow. It reads
each GGUF file with gguf.GGUFReader (and each hf-*/ checkpoint with safetensors + config.json)
and implements the forward pass from scratch, without transformers:

GGUF, as llama.cpp interprets it
  * dims: GGUF lists ne[0] first (the fastest-varying, input dimension): a [out, in] weight
    shows as dims [in, out]; the data is row-major [out][in], one row per output.
  * 1-D tensors (norms, rope_freqs) are F32; 2-D weights F32/BF16/Q8_0/Q4_0 (token_embd too).
  * gemma3: every *norm.weight already holds (1 + w): use x_hat * w. Embeddings are scaled by
    sqrt(embedding_length) (float32). Layer il is sliding iff il % 6 < 5 (llama.cpp hard-codes
    the pattern); window = attention.sliding_window keys including the current one (key j is
    visible from query i iff i - W < j <= i). RoPE is NEOX (pairs (j, j + d/2)); base 10000 on
    sliding layers (hard-coded in llama.cpp, not in the file) and rope.freq_base on full layers,
    where rope.scaling.type == "linear" also multiplies positions by 1/rope.scaling.factor.
    Q scale = gemma3.attention.scale when present (a Shardlight extension, see README), else
    1/sqrt(key_length). Per-head q/k RMSNorm before RoPE; sandwich norms; GELU(tanh).
    Logits = x @ token_embd^T (tied; no output.weight); token_embd holds only the real vocab.
  * llama: plain RMSNorm * w. attn_q/attn_k rows were permuted by the converter, so RoPE pairs
    are interleaved (2j, 2j+1); theta_j = pos * base^(-2j/n_rot) / rope_freqs[j]. SiLU MLP.

HF safetensors (+ config.json as published on the hub)
  * gemma3: norms are zero-centred: x_hat * (1 + w); RoPE rotate_half (NEOX), inv_freq per
    layer type: sliding -> rope_local_base_freq, full -> rope_theta (/ factor for linear
    rope_scaling). Q scale = query_pre_attn_scalar ** -0.5. Missing keys take transformers'
    Gemma3TextConfig defaults (published 4B/12B configs omit most of them).
  * Gemma3ForConditionalGeneration checkpoints name text weights language_model.model.*;
    vision_tower.* / multi_modal_projector.* are ignored for text. embed_tokens has padded
    rows (vocab_size 320 here, 262208 in the real 4B) that take part in the logits.
  * llama: unpermuted Q/K with rotate_half; llama3 rope scaling computed from rope_scaling.

Run: /work/venv/bin/python worker/engine/src/test/python/check_gguf_numpy.py [fixture ...]
       [--first-prompt-only] [--mutations]
--mutations also runs deliberately wrong readings of model-f32.gguf (wrong RoPE pairing,
window off by one, ignored rope scaling, ...) and fails unless each misses golden by > 100*TOL.
Exit status is non-zero if any check fails.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "resources" / "fixtures"
TOL = 1e-4          # max |logit difference| allowed against the float32 golden values
N_GREEDY = 24

# transformers Gemma3TextConfig defaults used by the published (4.5x-era) configs
GEMMA3_TEXT_DEFAULTS = dict(
    vocab_size=262_208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
    num_attention_heads=8, num_key_value_heads=4, head_dim=256, hidden_activation="gelu_pytorch_tanh",
    max_position_embeddings=131_072, rms_norm_eps=1e-6, rope_theta=1_000_000.0,
    rope_local_base_freq=10_000.0, rope_scaling=None, query_pre_attn_scalar=256,
    sliding_window=4096, sliding_window_pattern=6, final_logit_softcapping=None,
    attn_logit_softcapping=None, tie_word_embeddings=True,
)


# ------------------------------------------------------------------------------------------
# Canonical model: plain dict of float64 arrays + per-layer attention description
# ------------------------------------------------------------------------------------------

def rms(x, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope(x, pos, inv_freq, pairing):
    """x: [T, heads, d]; inv_freq: [d/2] (already including any scaling)."""
    ang = pos[:, None].astype(np.float64) * inv_freq[None, :]   # [T, d/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if pairing == "neox":
        h = x.shape[-1] // 2
        a, b = x[..., :h], x[..., h:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def forward(m, ids):
    ids = np.asarray(ids)
    T = len(ids)
    pos = np.arange(T)
    nh, nkv, hd, eps = m["n_head"], m["n_kv"], m["head_dim"], m["eps"]
    x = m["emb"][ids] * m["embed_scale"]
    gemma = m["arch"] == "gemma3"
    act = gelu_tanh if gemma else silu
    for L in m["layers"]:
        h = rms(x, eps) * L["attn_norm"]
        q = (h @ L["wq"].T).reshape(T, nh, hd)
        k = (h @ L["wk"].T).reshape(T, nkv, hd)
        v = (h @ L["wv"].T).reshape(T, nkv, hd)
        if gemma:
            q = rms(q, eps) * L["q_norm"]
            k = rms(k, eps) * L["k_norm"]
        q = rope(q, pos, L["inv_freq"], m["pairing"])
        k = rope(k, pos, L["inv_freq"], m["pairing"])
        i, j = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
        visible = j <= i
        if L["window"] is not None:
            visible &= (i - j) < L["window"]
        out = np.empty((T, nh, hd))
        for hh in range(nh):
            kv = hh // (nh // nkv)
            s = (q[:, hh] * m["attn_scale"]) @ k[:, kv].T
            s = np.where(visible, s, -np.inf)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            out[:, hh] = (s / s.sum(axis=-1, keepdims=True)) @ v[:, kv]
        a = out.reshape(T, nh * hd) @ L["wo"].T
        if gemma:
            a = rms(a, eps) * L["post_attn_norm"]
        x = x + a
        h = rms(x, eps) * L["ffn_norm"]
        f = (act(h @ L["w_gate"].T) * (h @ L["w_up"].T)) @ L["w_down"].T
        if gemma:
            f = rms(f, eps) * L["post_ffw_norm"]
        x = x + f
    x = rms(x, eps) * m["out_norm"]
    return x @ m["lm_head"].T


# ------------------------------------------------------------------------------------------
# GGUF loader (llama.cpp semantics)
# ------------------------------------------------------------------------------------------

def read_gguf(path):
    r = gguf.GGUFReader(str(path))
    kv = {name: f.contents() for name, f in r.fields.items()}
    tensors, types = {}, {}
    for t in r.tensors:
        shape = [int(d) for d in t.shape]          # ne[0] first
        arr = gguf.quants.dequantize(t.data, t.tensor_type)
        tensors[t.name] = np.asarray(arr, dtype=np.float64).reshape(list(reversed(shape)))
        types[t.name] = (t.tensor_type, shape)
    return kv, tensors, types


def check_gguf_layout(kv, types, file_type, problems, where):
    want2d = {"f32": QT.F32, "bf16": QT.BF16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0}[file_type]
    arch = kv["general.architecture"]
    for name, (tt, shape) in types.items():
        want = QT.F32 if len(shape) == 1 else want2d
        if tt != want:
            problems.append(f"{where}: {name} is {tt.name}, expected {want.name}")
    if "output.weight" in types:
        problems.append(f"{where}: output.weight present although embeddings are tied")
    n_vocab = len(kv["tokenizer.ggml.tokens"])
    if types["token_embd.weight"][1] != [kv[f"{arch}.embedding_length"], n_vocab]:
        problems.append(f"{where}: token_embd dims {types['token_embd.weight'][1]} vs vocab {n_vocab}")
    if len(kv["tokenizer.ggml.token_type"]) != n_vocab:
        problems.append(f"{where}: token_type length")
    q = types["blk.0.attn_q.weight"][1]
    if q != [kv[f"{arch}.embedding_length"], kv[f"{arch}.attention.head_count"] * kv[f"{arch}.attention.key_length"]]:
        problems.append(f"{where}: attn_q dims {q}")


def model_from_gguf(path):
    kv, T, types = read_gguf(path)
    arch = kv["general.architecture"]
    g = lambda k, d=None: kv.get(f"{arch}.{k}", d)  # noqa: E731
    n_layer, hd = g("block_count"), g("attention.key_length")
    m = dict(arch=arch, n_head=g("attention.head_count"), n_kv=g("attention.head_count_kv"), head_dim=hd,
             eps=g("attention.layer_norm_rms_epsilon"), emb=T["token_embd.weight"],
             lm_head=T.get("output.weight", T["token_embd.weight"]), out_norm=T["output_norm.weight"], layers=[])
    n_rot = g("rope.dimension_count", hd)
    expo = np.arange(0, n_rot, 2, dtype=np.float64) / n_rot
    if arch == "gemma3":
        m.update(embed_scale=math.sqrt(g("embedding_length")), pairing="neox",
                 attn_scale=g("attention.scale", 1.0 / math.sqrt(hd)))
        f_scale = 1.0 / g("rope.scaling.factor", 1.0) if g("rope.scaling.type") == "linear" else 1.0
        swa_inv = 1.0 / 10000.0 ** expo                            # rope_freq_base_train_swa
        full_inv = f_scale / g("rope.freq_base") ** expo
    else:
        m.update(embed_scale=1.0, pairing="interleaved", attn_scale=1.0 / math.sqrt(hd))
        full_inv = (1.0 / g("rope.freq_base") ** expo) / T.get("rope_freqs.weight", np.ones(n_rot // 2))
    for il in range(n_layer):
        b = f"blk.{il}."
        L = dict(attn_norm=T[b + "attn_norm.weight"], wq=T[b + "attn_q.weight"], wk=T[b + "attn_k.weight"],
                 wv=T[b + "attn_v.weight"], wo=T[b + "attn_output.weight"], ffn_norm=T[b + "ffn_norm.weight"],
                 w_gate=T[b + "ffn_gate.weight"], w_up=T[b + "ffn_up.weight"], w_down=T[b + "ffn_down.weight"])
        if arch == "gemma3":
            swa = il % 6 < 5
            L.update(q_norm=T[b + "attn_q_norm.weight"], k_norm=T[b + "attn_k_norm.weight"],
                     post_attn_norm=T[b + "post_attention_norm.weight"], post_ffw_norm=T[b + "post_ffw_norm.weight"],
                     window=g("attention.sliding_window") if swa else None, inv_freq=swa_inv if swa else full_inv)
        else:
            L.update(window=None, inv_freq=full_inv)
        m["layers"].append(L)
    return m, kv, types


# ------------------------------------------------------------------------------------------
# HF loader (transformers semantics, published config layout)
# ------------------------------------------------------------------------------------------

def llama3_inv_freq(theta, dim, rs):
    inv = 1.0 / theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    if not rs or rs.get("rope_type", rs.get("type")) != "llama3":
        return inv
    factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    wl = 2 * math.pi / inv
    out = np.where(wl > old / lo, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    mid = ~(wl < old / hi) & ~(wl > old / lo)
    return np.where(mid, (1 - smooth) * out / factor + smooth * out, out)


def read_safetensors(path):
    """Minimal reader: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, data."""
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = raw[base + a: base + b]
        if info["dtype"] == "F32":
            arr = np.frombuffer(buf, dtype="<f4")
        elif info["dtype"] == "BF16":  # float32 bits = bf16 bits << 16
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(info["dtype"])
        out[name] = arr.reshape(info["shape"]).astype(np.float64)
    return out


def model_from_hf(dirpath):
    cfg = json.loads((dirpath / "config.json").read_text())
    W = read_safetensors(dirpath / "model.safetensors")
    arch = cfg["architectures"][0]
    if arch == "Gemma3ForConditionalGeneration":
        c = dict(GEMMA3_TEXT_DEFAULTS, **cfg["text_config"])
        prefix = "language_model.model."
    elif arch == "Gemma3ForCausalLM":
        c = dict(GEMMA3_TEXT_DEFAULTS, **cfg)
        prefix = "model."
    elif arch == "LlamaForCausalLM":
        c = cfg
        prefix = "model."
    else:
        raise ValueError(arch)
    gemma = arch.startswith("Gemma3")
    H, nh = c["hidden_size"], c["num_attention_heads"]
    hd = c.get("head_dim") or H // nh
    one = 1.0 if gemma else 0.0      # Gemma3RMSNorm: (1 + w)
    emb = W[prefix + "embed_tokens.weight"]
    m = dict(arch="gemma3" if gemma else "llama", n_head=nh, n_kv=c["num_key_value_heads"], head_dim=hd,
             eps=c["rms_norm_eps"], emb=emb, lm_head=W.get("lm_head.weight", emb),
             out_norm=one + W[prefix + "norm.weight"], pairing="neox", layers=[])
    if gemma:
        # transformers: embed_scale = hidden_size ** 0.5 cast to the weight dtype (float32 here)
        m.update(embed_scale=float(np.float32(math.sqrt(H))), attn_scale=c["query_pre_attn_scalar"] ** -0.5)
        types = c.get("layer_types") or [
            "sliding_attention" if (i + 1) % c["sliding_window_pattern"] else "full_attention"
            for i in range(c["num_hidden_layers"])]
        expo = np.arange(0, hd, 2, dtype=np.float64) / hd
        local_inv = 1.0 / c["rope_local_base_freq"] ** expo
        full_inv = 1.0 / c["rope_theta"] ** expo
        rs = c.get("rope_scaling")
        if rs and rs.get("rope_type", rs.get("type")) == "linear":
            full_inv = full_inv / rs["factor"]      # full-attention layers only
    else:
        m.update(embed_scale=1.0, attn_scale=hd ** -0.5)
        inv = llama3_inv_freq(c["rope_theta"], hd, c.get("rope_scaling"))
    for i in range(c["num_hidden_layers"]):
        b = f"{prefix}layers.{i}."
        L = dict(attn_norm=one + W[b + "input_layernorm.weight"], wq=W[b + "self_attn.q_proj.weight"],
                 wk=W[b + "self_attn.k_proj.weight"], wv=W[b + "self_attn.v_proj.weight"],
                 wo=W[b + "self_attn.o_proj.weight"], w_gate=W[b + "mlp.gate_proj.weight"],
                 w_up=W[b + "mlp.up_proj.weight"], w_down=W[b + "mlp.down_proj.weight"])
        if gemma:
            sliding = types[i] == "sliding_attention"
            L.update(q_norm=1.0 + W[b + "self_attn.q_norm.weight"], k_norm=1.0 + W[b + "self_attn.k_norm.weight"],
                     post_attn_norm=1.0 + W[b + "post_attention_layernorm.weight"],
                     ffn_norm=1.0 + W[b + "pre_feedforward_layernorm.weight"],
                     post_ffw_norm=1.0 + W[b + "post_feedforward_layernorm.weight"],
                     window=c["sliding_window"] if sliding else None, inv_freq=local_inv if sliding else full_inv)
        else:
            L.update(ffn_norm=W[b + "post_attention_layernorm.weight"], window=None, inv_freq=inv)
        m["layers"].append(L)
    return m


# ------------------------------------------------------------------------------------------
# Comparison against golden.json
# ------------------------------------------------------------------------------------------

def compare(m, golden, variant, text_only, prompts_to_check, problems, where):
    recs = golden["variants"][variant]["prompts"]
    top_key = "top10_text" if text_only and "top10_text" in recs[0] else "top10"
    greedy_key = "greedy_text" if text_only and "greedy_text" in recs[0] else "greedy"
    gtop_key = "greedy_text_top10" if text_only and "greedy_text_top10" in recs[0] else "greedy_top10"
    worst = 0.0
    for pi in prompts_to_check:
        ids, rec = golden["prompts"][pi], recs[pi]
        lg = forward(m, ids)
        for t, row in enumerate(rec[top_key]):
            ref_ids = [r[0] for r in row]
            d = max(abs(lg[t, i] - v) for i, v in row)
            worst = max(worst, d)
            if rec["margins" if top_key == "top10" else "margins_text"][t] > 10 * TOL and int(np.argmax(lg[t])) != ref_ids[0]:
                problems.append(f"{where} prompt {pi} pos {t}: argmax {int(np.argmax(lg[t]))} != {ref_ids[0]}")
        # greedy continuation (full recompute per step) and its per-step logits
        seq = list(ids)
        for step in range(N_GREEDY):
            last = forward(m, seq)[-1]
            row = rec[gtop_key][step]
            worst = max(worst, max(abs(last[i] - v) for i, v in row))
            seq.append(int(np.argmax(last)))
        if seq[len(ids):] != rec[greedy_key]:
            problems.append(f"{where} prompt {pi}: greedy {seq[len(ids):]} != golden {rec[greedy_key]}")
    if worst > TOL:
        problems.append(f"{where}: max |logit diff| {worst:.3g} > {TOL}")
    return worst


def prompt_logit_diff(m, golden, variant, text_only, pi=0):
    recs = golden["variants"][variant]["prompts"]
    key = "top10_text" if text_only and "top10_text" in recs[0] else "top10"
    lg = forward(m, golden["prompts"][pi])
    return max(abs(lg[t, i] - v) for t, row in enumerate(recs[pi][key]) for i, v in row)


def mutations(fdir, golden):
    """Deliberately wrong readings of model-f32.gguf: each must miss golden by far more than TOL."""
    import copy
    base, kv, _ = model_from_gguf(fdir / "model-f32.gguf")
    arch = kv["general.architecture"]
    hd = kv[f"{arch}.attention.key_length"]
    muts = {}

    def mut(name, fn):
        m = copy.deepcopy(base)
        fn(m)
        muts[name] = prompt_logit_diff(m, golden, "f32", True)

    if arch == "gemma3":
        def norms_plus_one(m):  # treating GGUF norms like HF ones, i.e. (1 + w) twice
            for L in m["layers"]:
                for k in ("attn_norm", "ffn_norm", "q_norm", "k_norm", "post_attn_norm", "post_ffw_norm"):
                    L[k] = L[k] + 1.0
            m["out_norm"] = m["out_norm"] + 1.0
        mut("norms_get_another_plus_one", norms_plus_one)
        mut("no_embedding_scale", lambda m: m.update(embed_scale=1.0))
        mut("interleaved_rope_pairs", lambda m: m.update(pairing="interleaved"))
        W = kv[f"{arch}.attention.sliding_window"]
        mut("window_plus_1", lambda m: [L.update(window=W + 1) for L in m["layers"] if L["window"]])
        mut("window_minus_1", lambda m: [L.update(window=W - 1) for L in m["layers"] if L["window"]])
        mut("no_sliding_window", lambda m: [L.update(window=None) for L in m["layers"]])
        full = next(L["inv_freq"] for L in base["layers"] if L["window"] is None)
        mut("sliding_layers_use_rope_freq_base", lambda m: [L.update(inv_freq=full) for L in m["layers"]])
        if f"{arch}.rope.scaling.factor" in kv:
            f = kv[f"{arch}.rope.scaling.factor"]
            mut("linear_rope_scaling_ignored",
                lambda m: [L.update(inv_freq=L["inv_freq"] * f) for L in m["layers"] if L["window"] is None])
            mut("linear_rope_scaling_on_all_layers",
                lambda m: [L.update(inv_freq=L["inv_freq"] / f) for L in m["layers"] if L["window"] is not None])
        if f"{arch}.attention.scale" in kv:
            mut("attention_scale_key_ignored", lambda m: m.update(attn_scale=1.0 / math.sqrt(hd)))
    else:
        mut("neox_rope_pairs_on_permuted_qk", lambda m: m.update(pairing="neox"))
        n_rot = kv[f"{arch}.rope.dimension_count"]
        plain = 1.0 / kv[f"{arch}.rope.freq_base"] ** (np.arange(0, n_rot, 2) / n_rot)
        mut("rope_freqs_ignored", lambda m: [L.update(inv_freq=plain) for L in m["layers"]])
        mut("rope_freqs_multiplied_not_divided",
            lambda m: [L.update(inv_freq=plain * (plain / L["inv_freq"])) for L in m["layers"]])
    return muts


def check_fixture(fdir, all_prompts, with_mutations=False):
    golden = json.loads((fdir / "golden.json").read_text())
    problems = []
    prompts = range(len(golden["prompts"])) if all_prompts else [0]
    for variant in ("f32", "bf16", "q8_0", "q4_0"):
        path = fdir / f"model-{variant}.gguf"
        m, kv, types = model_from_gguf(path)
        check_gguf_layout(kv, types, variant, problems, path.name)
        d = compare(m, golden, variant, True, prompts, problems, f"{fdir.name}/{path.name}")
        print(f"  {path.name:<18} vs golden[{variant}]: max |dlogit| {d:.2e}")
    for variant, sub in (("f32", "hf-f32"), ("bf16", "hf-bf16")):
        m = model_from_hf(fdir / sub)
        d = compare(m, golden, variant, False, prompts, problems, f"{fdir.name}/{sub}")
        print(f"  {sub + '/':<18} vs golden[{variant}]: max |dlogit| {d:.2e}")
    if with_mutations:
        for name, d in mutations(fdir, golden).items():
            print(f"  mutation {name:<36} max |dlogit| {d:.3g}" + ("" if d > 100 * TOL else "  <-- NOT DETECTED"))
            if d <= 100 * TOL:
                problems.append(f"{fdir.name}: mutation {name} is not detected")
    return problems


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    all_prompts = "--first-prompt-only" not in sys.argv
    with_mutations = "--mutations" in sys.argv
    names = args or sorted(p.name for p in FIXTURES.iterdir() if (p / "golden.json").is_file())
    problems = []
    for name in names:
        print(name)
        problems += check_fixture(FIXTURES / name, all_prompts, with_mutations)
    for p in problems:
        print("FAIL:", p)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
