"""Writes a tiny seeded random Llama with Llama-3.1 RoPE scaling, as transformers saves it, and the
logits transformers computes after reloading it with from_pretrained (the oracle of
tests/hf_config_test.cc). Run where torch and transformers 5 are installed:

    python3 make_oracle.py OUT_DIR

OUT_DIR gets config.json, tokens.json, logits.npy (f32, the last LOGIT_ROWS positions) and
transformers_keys.json (every key LlamaConfig().to_dict() holds). The weights are not kept: every
value is a function of the tensor's name and the element's index (FormulaValue, integers only, so
each value is exactly a bf16 number), and tests/hf_config_test.cc writes the same model.safetensors
from the same formula. The model transformers saved and reloaded lies in OUT_DIR/model/, not kept.
Shapes: hidden 32, 2 layers, 4 heads of 16, 2 KV heads, vocabulary 2048 (the TinyStories-656K
tokenizer is linked in by the test), RoPE base 10000 with llama3 factor 8, low 1, high 4 and an
original context of 64, so that pairs fall in all three bands (kept, blended, divided)."""
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

N_TOKENS = 200
LOGIT_ROWS = 4


def formula_value(salt, i, norm):
    """The weight of element i of a tensor: a bf16 number from a 32-bit hash (see the C++ twin
    FormulaValue in tests/hf_config_test.cc). Norm weights in [1, 1.875], others +-[1/64, 1/4)."""
    h = ((salt ^ ((i * 0x9E3779B1) & 0xFFFFFFFF)) * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    m = h & 127
    if norm:
        return 1.0 + (m & 7) / 8.0
    e = (h >> 7) % 4
    sign = -1.0 if (h >> 9) & 1 else 1.0
    return sign * (1.0 + m / 128.0) * 2.0 ** -(e + 3)


def name_salt(name):
    """FNV-1a over the tensor's name."""
    h = 0x811C9DC5
    for c in name.encode():
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h


def formula_tensor(name, shape):
    n = 1
    for d in shape:
        n *= d
    salt, norm = name_salt(name), "norm" in name
    return torch.tensor([formula_value(salt, i, norm) for i in range(n)],
                        dtype=torch.float32).reshape(shape).to(torch.bfloat16)


def main(out):
    os.makedirs(out, exist_ok=True)
    rope = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    config = LlamaConfig(vocab_size=2048, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=16, max_position_embeddings=512, rms_norm_eps=1e-5,
                         rope_parameters=rope, tie_word_embeddings=True, initializer_range=0.2,
                         bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(formula_tensor(name, tuple(p.shape)))
    saved = os.path.join(out, "model")
    model.save_pretrained(saved)
    shutil.copy(os.path.join(saved, "config.json"), os.path.join(out, "config.json"))
    with open(os.path.join(out, "transformers_keys.json"), "w") as f:
        json.dump({"transformers": transformers.__version__,
                   "keys": sorted(LlamaConfig().to_dict().keys())}, f, indent=1)

    tokens = torch.randint(0, 2048, (1, N_TOKENS), generator=torch.Generator().manual_seed(5))
    reloaded = LlamaForCausalLM.from_pretrained(saved, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = reloaded(tokens).logits[0].numpy().astype(np.float32)
    np.save(os.path.join(out, "logits.npy"), logits[-LOGIT_ROWS:])
    with open(os.path.join(out, "tokens.json"), "w") as f:
        json.dump(tokens[0].tolist(), f)

    # The oracle must tell llama3 RoPE from the default RoPE: report how far apart they are.
    plain = LlamaConfig(**{**reloaded.config.to_dict(),
                           "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}})
    other = LlamaForCausalLM(plain).eval()
    other.load_state_dict(reloaded.state_dict())
    with torch.no_grad():
        plain_logits = other(tokens).logits[0].numpy()
    print("max |llama3 - default RoPE| over the stored rows:",
          float(np.abs(plain_logits[-LOGIT_ROWS:] - logits[-LOGIT_ROWS:]).max()))


if __name__ == "__main__":
    main(sys.argv[1])
