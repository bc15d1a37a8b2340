#include "model/config.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace kvbench {

absl::Status ModelConfig::Validate() const {
  auto bad = [](std::string_view what, int value) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model config: %s = %d is invalid", what, value));
  };
  // Upper bounds keep every size product well inside int64 and reject absurd headers early.
  if (dim <= 0 || dim > (1 << 16)) return bad("dim", dim);
  if (n_layers <= 0 || n_layers > 1024) return bad("n_layers", n_layers);
  if (n_heads <= 0 || n_heads > 1024) return bad("n_heads", n_heads);
  if (n_kv_heads <= 0 || n_kv_heads > n_heads) return bad("n_kv_heads", n_kv_heads);
  if (n_heads % n_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model config: n_heads = %d is not a multiple of n_kv_heads = %d", n_heads, n_kv_heads));
  }
  if (head_dim <= 0 || head_dim % 2 != 0 || head_dim > 1024) return bad("head_dim", head_dim);
  if (hidden_dim <= 0 || hidden_dim > (1 << 18)) return bad("hidden_dim", hidden_dim);
  if (vocab_size <= 0 || vocab_size > (1 << 22)) return bad("vocab_size", vocab_size);
  if (context_length <= 0 || context_length > (1 << 24))
    return bad("context_length", context_length);
  if (rope_dims <= 0 || rope_dims > head_dim || rope_dims % 2 != 0)
    return bad("rope_dims", rope_dims);
  if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta))
    return absl::InvalidArgumentError("model config: rope_theta must be a positive finite number");
  if (!rope_freq_factors.empty()) {
    if (static_cast<int>(rope_freq_factors.size()) != rope_dims / 2) {
      return absl::InvalidArgumentError(
          absl::StrFormat("model config: %zu RoPE frequency factors for %d rotary pairs",
                          rope_freq_factors.size(), rope_dims / 2));
    }
    for (size_t i = 0; i < rope_freq_factors.size(); ++i) {
      // Also refuses NaN; the upper bound keeps a frequency from vanishing into denormals.
      if (!(rope_freq_factors[i] > 0.0f && rope_freq_factors[i] < 1e30f)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "model config: RoPE frequency factor %zu = %g is not a positive finite number", i,
            rope_freq_factors[i]));
      }
    }
  }
  if (!(rms_eps > 0.0f) || rms_eps > 1.0f) {
    return absl::InvalidArgumentError("model config: rms_eps must be in (0, 1]");
  }
  auto positive_finite = [](float v) { return v > 0.0f && std::isfinite(v); };
  if (!positive_finite(embedding_scale) || !positive_finite(query_scale)) {
    return absl::InvalidArgumentError(
        "model config: embedding_scale and query_scale must be positive finite numbers");
  }
  if (!(final_logit_softcap >= 0.0f) || !std::isfinite(final_logit_softcap)) {
    return absl::InvalidArgumentError("model config: final_logit_softcap must be >= 0");
  }
  if (sliding_window < 0) return bad("sliding_window", sliding_window);
  if (sliding_window == 0 && !sliding_layers.empty()) {
    return absl::InvalidArgumentError("model config: sliding layers without a sliding_window");
  }
  if (!sliding_layers.empty() && static_cast<int>(sliding_layers.size()) != n_layers) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model config: %zu sliding-layer flags for %d layers", sliding_layers.size(), n_layers));
  }
  if (has_sliding_rope()) {
    if (!std::isfinite(sliding_rope_theta)) {
      return absl::InvalidArgumentError("model config: sliding_rope_theta is not finite");
    }
    if (!sliding_rope_freq_factors.empty() &&
        static_cast<int>(sliding_rope_freq_factors.size()) != rope_dims / 2) {
      return absl::InvalidArgumentError(
          absl::StrFormat("model config: %zu sliding-layer RoPE factors for %d rotary pairs",
                          sliding_rope_freq_factors.size(), rope_dims / 2));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ArchitectureFeatures(const ModelConfig& c) {
  std::vector<std::string> lines;
  lines.push_back(c.activation == ModelConfig::Activation::kGeluTanh
                      ? "ffn          GeGLU: gelu_tanh(gate) * up"
                      : "ffn          SwiGLU: silu(gate) * up");
  lines.push_back(absl::StrCat("bias         ", c.attention_bias ? "q, k, v projections" : "none"));
  lines.push_back(
      absl::StrCat("q/k norm     ", c.qk_norm ? "RMSNorm over each head, before RoPE" : "none"));
  lines.push_back(c.sandwich_norms
                      ? "norms        before and after attention and FFN (Gemma: 1 + w)"
                      : "norms        before attention and FFN");
  if (c.embedding_scale != 1.0f || c.query_scale != 1.0f) {
    lines.push_back(absl::StrFormat("scales       embedding x %g, scores q.k / sqrt(%g)",
                                    c.embedding_scale,
                                    c.head_dim / (c.query_scale * c.query_scale)));
  }
  if (c.final_logit_softcap > 0.0f) {
    lines.push_back(absl::StrFormat("softcap      logits = %g tanh(logits / %g)",
                                    c.final_logit_softcap, c.final_logit_softcap));
  }
  if (c.sliding_window == 0) {
    lines.push_back("sliding      none (every layer attends to the whole context)");
  } else {
    std::vector<int> layers;
    for (int l = 0; l < c.n_layers; ++l) {
      if (c.is_sliding(l)) layers.push_back(l);
    }
    std::string line =
        absl::StrFormat("sliding      window %d on %d of %d layers (%s)", c.sliding_window,
                        c.n_sliding_layers(), c.n_layers, absl::StrJoin(layers, ", "));
    if (c.has_sliding_rope()) {
      absl::StrAppend(&line,
                      absl::StrFormat("; their RoPE %s, theta %g",
                                      c.sliding_rope_type.empty() ? "default" : c.sliding_rope_type,
                                      c.sliding_rope_theta));
    }
    lines.push_back(line);
  }
  return lines;
}

int ModelConfig::n_sliding_layers() const {
  int n = 0;
  for (uint8_t s : sliding_layers) n += s != 0;
  return n;
}

}  // namespace kvbench
