"""kvpress as the oracle of kvbench's policies (tests/kvpress_oracle_test.cc): the positions each
layer and KV head keeps after kvpress compresses a fixed prompt, for a list of presses at
compression ratios 0.5 and 0.75. Run where torch and transformers 5 are installed:

    python3 make_oracle.py --kvpress KVPRESS_CHECKOUT --model MODEL_DIR --text TEXT_FILE \
        --out OUT.json [--n-tokens 256]
    python3 make_oracle.py --kvpress KVPRESS_CHECKOUT --model MODEL_DIR \
        --tokens-from OLD.json --out OUT.json     # the token ids an earlier output recorded

kvpress is not vendored: its press modules are imported from KVPRESS_CHECKOUT (a clone of
github.com/NVIDIA/kvpress). kvpress pins transformers < 5.3; its press modules run on 5.17 with the
shims below (SHIMS lists them; the output records which were applied):
  * only kvpress/presses/* and kvpress/utils.py are loaded, under a stub `kvpress` package, so
    kvpress/__init__.py (its pipeline and attention patch, which need the pinned transformers) is
    never run;
  * the presses are hooked by this script, not by `with press(model)`, so that each hook can also
    record the press's scores; the hook fills kwargs kvpress expects (cache_position) when
    transformers does not pass them, and sets module.rotary_emb as press.__call__ would.
The kept positions are read from the compressed cache itself (cache.layers[i].keys): each kept row
is found, exactly, among the keys of an uncompressed run of the same prompt. AdaKVPress does not
prune the cache: its kept positions are the complement of module.masked_key_indices.

Ties: for every (layer, KV head) the output lists the positions whose press score lies within a
relative 1e-3 of the midpoint between the lowest kept and the highest evicted score (over the
whole layer for presses that select over it: TOVA, AdaKV); the list is empty where that gap is
wider than the tolerance. Only those may differ between kvpress
(float32 on the GPU, torch.topk) and kvbench (float32 on the CPU, older entry first).

Everything runs in float32 (kvb-docs-12M's bf16 weights are upcast exactly, as kvbench reads them).
"""
import argparse
import json
import os
import subprocess
import sys
import types

import torch
import transformers
from transformers import AutoTokenizer, DynamicCache, LlamaForCausalLM

RATIOS = (0.5, 0.75)
TIE_TOLERANCE = 1e-3
SHIMS = []


def load_kvpress(checkout):
    """Imports kvpress/presses/* without kvpress/__init__.py (stub parent packages)."""
    root = os.path.join(checkout, "kvpress")
    for name, path in (("kvpress", root), ("kvpress.presses", os.path.join(root, "presses"))):
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    SHIMS.append("stub packages kvpress and kvpress.presses (kvpress/__init__.py not run)")
    import importlib
    mods = {}
    for m in ("streaming_llm_press", "snapkv_press", "tova_press", "knorm_press",
              "observed_attention_press", "pyramidkv_press", "expected_attention_press",
              "adakv_press", "keydiff_press", "lagkv_press", "chunkkv_press"):
        mods[m] = importlib.import_module("kvpress.presses." + m)
    return mods


def git_commit(checkout):
    """kvpress's commit: CHECKOUT/COMMIT in an exported copy, else the checkout's own HEAD. A copy
    inside another repository must not report that repository's HEAD (the first outputs recorded
    kvbench's commit 7605843 so)."""
    marker = os.path.join(checkout, "COMMIT")
    if os.path.exists(marker):
        return open(marker).read().strip()
    top = subprocess.check_output(["git", "-C", checkout, "rev-parse", "--show-toplevel"],
                                  stderr=subprocess.DEVNULL).decode().strip()
    assert os.path.realpath(top) == os.path.realpath(checkout), (
        f"{checkout} is not a kvpress checkout (its repository is {top}); write its commit to "
        "COMMIT")
    return subprocess.check_output(["git", "-C", checkout, "rev-parse", "HEAD"]).decode().strip()


def presses(mods):
    """(label, kvpress class name, constructor params, factory) for each case."""
    m = mods
    out = []
    for cr in RATIOS:
        out += [
            ("StreamingLLMPress", {"compression_ratio": cr, "n_sink": 4},
             lambda p: m["streaming_llm_press"].StreamingLLMPress(**p)),
            ("SnapKVPress", {"compression_ratio": cr, "window_size": 32, "kernel_size": 5},
             lambda p: m["snapkv_press"].SnapKVPress(**p)),
            ("TOVAPress", {"compression_ratio": cr}, lambda p: m["tova_press"].TOVAPress(**p)),
            ("KnormPress", {"compression_ratio": cr}, lambda p: m["knorm_press"].KnormPress(**p)),
            ("ObservedAttentionPress", {"compression_ratio": cr},
             lambda p: m["observed_attention_press"].ObservedAttentionPress(**p)),
            ("PyramidKVPress",
             {"compression_ratio": cr, "window_size": 32, "kernel_size": 5, "beta": 20},
             lambda p: m["pyramidkv_press"].PyramidKVPress(**p)),
            ("ExpectedAttentionPress",
             {"compression_ratio": cr, "n_future_positions": 512, "n_sink": 4,
              "use_covariance": True, "use_vnorm": True, "epsilon": 0.0},
             lambda p: m["expected_attention_press"].ExpectedAttentionPress(**p)),
            ("AdaKVPress(SnapKVPress)",
             {"compression_ratio": cr, "window_size": 32, "kernel_size": 5,
              "alpha_safeguard": 0.2},
             lambda p: m["adakv_press"].AdaKVPress(
                 press=m["snapkv_press"].SnapKVPress(
                     compression_ratio=p["compression_ratio"], window_size=p["window_size"],
                     kernel_size=p["kernel_size"]),
                 alpha_safeguard=p["alpha_safeguard"])),
            ("KeyDiffPress", {"compression_ratio": cr},
             lambda p: m["keydiff_press"].KeyDiffPress(**p)),
            # lag 32: the default 128 leaves a 256-token prompt unpartitioned (sinks + newest).
            ("LagKVPress", {"compression_ratio": cr, "n_sink": 4, "lag_size": 32},
             lambda p: m["lagkv_press"].LagKVPress(**p)),
            ("ChunkKVPress(SnapKVPress)",
             {"compression_ratio": cr, "window_size": 32, "kernel_size": 5, "chunk_length": 20},
             lambda p: m["chunkkv_press"].ChunkKVPress(
                 press=m["snapkv_press"].SnapKVPress(
                     compression_ratio=p["compression_ratio"], window_size=p["window_size"],
                     kernel_size=p["kernel_size"]),
                 chunk_length=p["chunk_length"])),
        ]
    return out


def load_model(path, attn):
    try:
        model = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation=attn)
    except TypeError:
        model = LlamaForCausalLM.from_pretrained(path, torch_dtype=torch.float32,
                                                 attn_implementation=attn)
    return model.to("cuda" if torch.cuda.is_available() else "cpu").eval()


def new_cache(model):
    try:
        return DynamicCache(config=model.config)
    except TypeError:
        return DynamicCache()


def prefill(model, ids, hook=None):
    """One forward over the prompt; returns the cache. hook(module, args, kwargs, output) runs
    after every attention layer."""
    handles = []
    if hook is not None:
        for layer in model.model.layers:
            layer.self_attn.rotary_emb = model.model.rotary_emb  # as BasePress.__call__ does
            handles.append(layer.self_attn.register_forward_hook(hook, with_kwargs=True))
    try:
        cache = new_cache(model)
        with torch.no_grad():
            model(input_ids=ids, past_key_values=cache, use_cache=True)
    finally:
        for h in handles:
            h.remove()
    return cache


def layer_keys(cache, i):
    return cache.layers[i].keys[0].float()  # (kv_heads, entries, head_dim)


def match_rows(kept, full):
    """Positions in `full` (n, d) of the rows of `kept` (k, d), exactly equal, sorted."""
    out = []
    for row in kept:
        hit = torch.nonzero((full == row).all(dim=-1)).flatten().tolist()
        assert len(hit) >= 1, "a kept key matches no key of the uncompressed run"
        out.append(hit[0])
    out.sort()
    assert len(set(out)) == len(out), "two kept rows matched the same position"
    return out


def near_ties(scores, kept_sets, per_layer):
    """For each head: positions whose score is within TIE_TOLERANCE of the kept/evicted boundary.
    scores: (heads, n) float tensor; kept_sets: per head, the kept positions."""
    heads, n = scores.shape

    def boundary(hs):
        lo, hi = float("inf"), -float("inf")
        for h in hs:
            kept = set(kept_sets[h])
            for p in range(n):
                s = float(scores[h, p])
                if p in kept:
                    lo = min(lo, s)
                else:
                    hi = max(hi, s)
        return lo, hi

    out = []
    layer_b = boundary(range(heads)) if per_layer else None
    for h in range(heads):
        lo, hi = layer_b if per_layer else boundary([h])
        if hi == -float("inf"):
            out.append([])
            continue
        # The band around the midpoint of the gap: empty when the gap itself is wider than the
        # tolerance (no float noise can swap a kept and an evicted entry there).
        scale = max(abs(lo), abs(hi), 1e-30)
        mid = (lo + hi) / 2
        near = [p for p in range(n) if abs(float(scores[h, p]) - mid) <= TIE_TOLERANCE * scale]
        out.append(near)
    return out


def chunk_scores(scores, chunk):
    """ChunkKVPress's selection score of each position: the mean over its chunk of the scores
    summed over heads (the last chunk partial), the same in every head. scores: (heads, n)."""
    total = scores.sum(dim=0)
    n = total.shape[0]
    out = torch.empty(n)
    for begin in range(0, n, chunk):
        end = min(n, begin + chunk)
        out[begin:end] = total[begin:end].mean()
    return out.unsqueeze(0).expand(scores.shape[0], n).clone()


def run_case(models, ids, full_keys, name, params, factory):
    press = factory(dict(params))
    adakv = name.startswith("AdaKV")
    chunkkv = name.startswith("ChunkKV")
    # AdaKV asserts non-eager and ChunkKV asserts no attention weights (sdpa returns none);
    # ObservedAttention needs eager's.
    attn = "sdpa" if adakv or chunkkv else "eager"
    model = models[attn]
    full_keys = full_keys[attn]
    press.post_init_from_model(model)
    scorer = press.press if adakv or chunkkv else press
    scores = {}

    def hook(module, args, kwargs, output):
        if "cache_position" not in kwargs:
            if "cache_position" not in " ".join(SHIMS):
                SHIMS.append("cache_position filled in the hook's kwargs (transformers passes none)")
            q_len = kwargs["hidden_states"].shape[1]
            kwargs["cache_position"] = torch.arange(q_len, device=kwargs["hidden_states"].device)
        if "past_key_values" not in kwargs:  # transformers 4.5x called it past_key_value
            SHIMS.append("past_key_values taken from past_key_value") if "past_key_value" not in " ".join(SHIMS) else None
            kwargs["past_key_values"] = kwargs["past_key_value"]
        cache = kwargs["past_key_values"]
        keys = cache.layers[module.layer_idx].keys
        values = cache.layers[module.layer_idx].values
        with torch.no_grad():
            s = scorer.score(module, kwargs["hidden_states"], keys, values, output[1], kwargs)
        scores[module.layer_idx] = s[0].float().cpu()
        return press.forward_hook(module, args, kwargs, output)

    cache = prefill(model, ids, hook)
    kept = []
    ties = []
    for i, layer in enumerate(model.model.layers):
        full = full_keys[i]
        heads = full.shape[0]
        if adakv:
            _, head_idx, seq_idx = layer.self_attn.masked_key_indices
            masked = [set() for _ in range(heads)]
            for h, p in zip(head_idx.tolist(), seq_idx.tolist()):
                masked[h].add(p)
            layer_kept = [[p for p in range(full.shape[1]) if p not in masked[h]]
                          for h in range(heads)]
            del layer.self_attn.masked_key_indices
        else:
            ck = layer_keys(cache, i)
            layer_kept = [match_rows(ck[h], full[h]) for h in range(heads)]
        kept.append(layer_kept)
        per_layer = name.startswith("TOVA") or adakv or chunkkv
        layer_scores = chunk_scores(scores[i], params["chunk_length"]) if chunkkv else scores[i]
        ties.append(near_ties(layer_scores, layer_kept, per_layer))
    return {"press": name, "params": params, "kept": kept, "near_ties": ties}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kvpress", required=True)
    ap.add_argument("--model", required=True)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="text file: BOS + its first --n-tokens tokens")
    source.add_argument("--tokens-from", help="an earlier output JSON: its \"tokens\", as recorded")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-tokens", type=int, default=256)
    a = ap.parse_args()

    mods = load_kvpress(a.kvpress)
    if a.tokens_from:
        ids = json.load(open(a.tokens_from))["tokens"]
        a.n_tokens = len(ids)
    else:
        tok = AutoTokenizer.from_pretrained(a.model)
        text = open(a.text).read()
        ids = tok(text, add_special_tokens=False)["input_ids"]
        config = json.load(open(os.path.join(a.model, "config.json")))
        bos = config.get("bos_token_id")
        if bos is not None:
            ids = [bos] + ids
        ids = ids[: a.n_tokens]
        assert len(ids) == a.n_tokens, f"text too short: {len(ids)} tokens"

    models = {attn: load_model(a.model, attn) for attn in ("eager", "sdpa")}
    device = next(models["eager"].parameters()).device
    input_ids = torch.tensor([ids], device=device)
    # Keys of layers past the first depend on the attention kernel (eager and sdpa round
    # differently): kept rows are looked up among an uncompressed run of the same kernel.
    full_keys = {}
    for attn, model in models.items():
        full_cache = prefill(model, input_ids)
        full_keys[attn] = [layer_keys(full_cache, i) for i in range(len(model.model.layers))]

    cases = [run_case(models, input_ids, full_keys, name, params, factory)
             for name, params, factory in presses(mods)]
    out = {
        "model": os.path.basename(os.path.normpath(a.model)),
        "n_tokens": a.n_tokens,
        "tokens": ids,
        "kvpress_commit": git_commit(a.kvpress),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "dtype": "float32",
        "tie_tolerance": TIE_TOLERANCE,
        "shims": SHIMS,
        "cases": cases,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(a.out, len(cases), "cases; shims:", SHIMS)


if __name__ == "__main__":
    main()
