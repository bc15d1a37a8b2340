"""Writes one tiny seeded random model per architecture family as transformers saves it, and the
logits transformers computes after reloading it with from_pretrained: the oracles of
tests/hf_arch_test.cc. Run where torch and transformers 5 are installed (the device machine):

    python3 make_oracle.py --out OUT_DIR [--sources]

OUT_DIR/<family>/ gets config.json and model.safetensors (written by save_pretrained in bf16),
tokenizer.json (a byte-level BPE of the 256 bytes, no merges, written here so the folder loads as
a whole model), tokens.json (N_TOKENS ids), logits.npy (f32, every position, computed in f32 by the
reloaded model) and transformers_keys.json (every key <Family>Config().to_dict() holds, the keys
transformers writes for that family). --sources copies transformers' own files for these families
into OUT_DIR/sources/, to read the exact version that made the oracle.

Shapes: hidden 64, 2 layers, 4 heads of 16, 2 KV heads, FFN 128, vocabulary 256. The sequence is
longer than the sliding windows (16 tokens), so the window changes the logits; the script prints by
how much, and likewise for each family's other switches, so a test that passes could not pass
without them. Weights: normal, seeded per family; norms near their identity (1 + w for Llama-style
norms, w near 0 for Gemma's (1 + w)); biases large enough to matter."""
import argparse
import json
import os
import shutil

N_TOKENS = 48
VOCAB = 256
WINDOW = 16
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, head_dim=16,
              max_position_embeddings=256, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def families():
    """name -> (config class, model class, config kwargs, ablations). An ablation is a set of
    config overrides that switches one feature off; the oracle shows that it changes the logits."""
    import transformers as tf
    return {
        "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM,
                  dict(COMMON, rms_norm_eps=1e-6, tie_word_embeddings=True,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                       use_sliding_window=False, sliding_window=None, max_window_layers=2),
                  {}),
        "qwen3": (tf.Qwen3Config, tf.Qwen3ForCausalLM,
                  dict(COMMON, rms_norm_eps=1e-6, tie_word_embeddings=True, attention_bias=False,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                       use_sliding_window=False, sliding_window=None, max_window_layers=2),
                  {}),
        "mistral": (tf.MistralConfig, tf.MistralForCausalLM,
                    dict(COMMON, rms_norm_eps=1e-5, tie_word_embeddings=False,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                         sliding_window=WINDOW),
                    {"no sliding window": {"sliding_window": None}}),
        "gemma3": (tf.Gemma3TextConfig, tf.Gemma3ForCausalLM,
                   dict(COMMON, rms_norm_eps=1e-6, tie_word_embeddings=True,
                        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=32,
                        sliding_window=WINDOW,
                        layer_types=["sliding_attention", "full_attention"],
                        rope_parameters={
                            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                            "full_attention": {"rope_type": "linear", "factor": 4.0,
                                               "rope_theta": 1000000.0}},
                        final_logit_softcapping=None, attn_logit_softcapping=None),
                   {"no sliding window": {"sliding_window": 4096},
                    "query_pre_attn_scalar = head_dim": {"query_pre_attn_scalar": 16},
                    "one RoPE for both layer types": {"rope_parameters": {
                        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                        "full_attention": {"rope_type": "default", "rope_theta": 10000.0}}}}),
    }


def byte_level_tokenizer():
    """tokenizer.json of a byte-level BPE over the 256 bytes (GPT-2's byte-to-unicode alphabet),
    no merges: token i is byte i."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) +
                 list(range(0xAE, 0xFF + 1)))
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    vocab = {chars[b]: b for b in range(256)}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }


def init_weights(model, seed, gemma_norms):
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name:
                p.copy_(0.2 * noise if gemma_norms else 1.0 + 0.2 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.3 * noise)
            elif "embed_tokens" in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(noise / p.shape[1] ** 0.5)


def logits_of(model_class, path, tokens, overrides=None):
    import torch
    model = model_class.from_pretrained(path, dtype=torch.float32, attn_implementation="eager",
                                        **(overrides or {})).eval()
    with torch.no_grad():
        return model(tokens).logits[0].float().numpy()


def make_family(out, name, seed):
    import numpy as np
    import torch
    config_class, model_class, kwargs, ablations = families()[name]
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    config = config_class(**kwargs)
    model = model_class(config)
    init_weights(model, seed, gemma_norms=name.startswith("gemma"))
    model = model.to(torch.bfloat16)
    model.save_pretrained(folder)
    assert os.path.exists(os.path.join(folder, "model.safetensors")), os.listdir(folder)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(byte_level_tokenizer(), f, ensure_ascii=False)
    with open(os.path.join(folder, "transformers_keys.json"), "w") as f:
        import transformers
        json.dump({"transformers": transformers.__version__,
                   "keys": sorted(config_class().to_dict().keys())}, f, indent=1)

    tokens = torch.randint(0, VOCAB, (1, N_TOKENS), generator=torch.Generator().manual_seed(seed))
    with open(os.path.join(folder, "tokens.json"), "w") as f:
        json.dump(tokens[0].tolist(), f)
    logits = logits_of(model_class, folder, tokens)
    np.save(os.path.join(folder, "logits.npy"), logits.astype(np.float32))
    print(f"{name}: logits {logits.shape}, |logit| max {np.abs(logits).max():.3f}")
    for what, overrides in ablations.items():
        other = logits_of(model_class, folder, tokens, overrides)
        print(f"  {what}: max |diff| {np.abs(other - logits).max():.4f} "
              f"(positions < {WINDOW}: {np.abs(other - logits)[:WINDOW].max():.2e})")
    # Cached decoding in transformers equals its own prefill (the oracle's self-consistency).
    reloaded = model_class.from_pretrained(folder, dtype=torch.float32,
                                           attn_implementation="eager").eval()
    with torch.no_grad():
        past, step = None, []
        for t in range(N_TOKENS):
            o = reloaded(tokens[:, t:t + 1], past_key_values=past, use_cache=True)
            past = o.past_key_values
            step.append(o.logits[0, -1].numpy())
    print(f"  transformers cached decode vs prefill: max |diff| "
          f"{np.abs(np.stack(step) - logits).max():.2e}")
    print("  config.json:", open(os.path.join(folder, "config.json")).read())


def copy_sources(out):
    import transformers
    base = os.path.dirname(transformers.__file__)
    dest = os.path.join(out, "sources")
    os.makedirs(dest, exist_ok=True)
    files = ["masking_utils.py", "modeling_rope_utils.py", "activations.py",
             "configuration_utils.py"]
    for family in ["qwen2", "qwen3", "mistral", "gemma3"]:
        files += [f"models/{family}/configuration_{family}.py",
                  f"models/{family}/modeling_{family}.py"]
    for rel in files:
        src = os.path.join(base, rel)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(dest, rel.replace("/", "__")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--sources", action="store_true")
    parser.add_argument("--families", default="qwen2,qwen3,mistral,gemma3")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    failed = []
    for seed, name in enumerate(args.families.split(","), start=11):
        try:
            make_family(args.out, name, seed)
        except Exception as e:  # one family's failure must not lose the others' oracles
            import traceback
            traceback.print_exc()
            failed.append(f"{name}: {e}")
    if args.sources:
        copy_sources(args.out)
    if failed:
        raise SystemExit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
