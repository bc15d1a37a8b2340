#include "model/decoder.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "base/case_guard.h"
#include "base/check.h"
#include "model/ops.h"
#include "model/rope.h"

namespace kvbench {
namespace {

// x[j] += delta[j] for the n values of the residual stream.
void AddResidual(const float* delta, size_t n, float* x) {
  for (size_t j = 0; j < n; ++j) x[j] += delta[j];
}

// y[r][j] += bias[j] for each of n_rows rows of width n; nothing when there is no bias.
void AddBias(const float* bias, int n_rows, int n, float* y) {
  if (bias == nullptr) return;
  for (int r = 0; r < n_rows; ++r) {
    for (int j = 0; j < n; ++j) y[static_cast<size_t>(r) * n + j] += bias[j];
  }
}

// RMSNorm of every head of every row in place (Qwen3 / Gemma-3 q_norm and k_norm).
void NormHeads(const float* weight, int n_rows, int n_heads, int head_dim, float eps, float* x) {
  for (int i = 0; i < n_rows * n_heads; ++i) {
    float* head = x + static_cast<size_t>(i) * head_dim;
    RmsNorm(head, weight, head_dim, eps, head);
  }
}

// Each of the n rows of width dim normalized in place (sandwich norms).
void NormRows(const float* weight, int n_rows, int dim, float eps, float* x) {
  for (int r = 0; r < n_rows; ++r) {
    float* row = x + static_cast<size_t>(r) * dim;
    RmsNorm(row, weight, dim, eps, row);
  }
}

std::vector<double> SlidingRopeFrequencies(const ModelConfig& c) {
  if (!c.has_sliding_rope()) return {};
  return RopeFrequencies(c.rope_dims, c.sliding_rope_theta, c.sliding_rope_freq_factors);
}

}  // namespace

Decoder::Decoder(const Model& model)
    : model_(model),
      rope_freqs_(RopeFrequencies(model.config.rope_dims, model.config.rope_theta,
                                  model.config.rope_freq_factors)),
      sliding_rope_freqs_(SlidingRopeFrequencies(model.config)) {}

// llama2.c's forward pass, over every row of the batch at once.
void Decoder::Forward(absl::Span<const StepInput> inputs) {
  PlanStep(inputs);  // rows, logit rows and caches of the batch; buffers sized
  if (plan_.n_rows == 0) return;
  Embed(inputs);  // x = embedding(token); RoPE angles of every row
  for (const AttentionTask& t : plan_.tasks) t.cache->BeginStep(t.pos0, t.n_tokens);
  for (int l = 0; l < config().n_layers; ++l) {
    Attention(l);    // x += attention over each row's cache
    FeedForward(l);  // x += SwiGLU
  }
  for (const AttentionTask& t : plan_.tasks) t.cache->EndStep();  // policies evict here
  Classify(inputs);  // logits of the rows that asked for them
}

void Decoder::PlanStep(absl::Span<const StepInput> inputs) {
  const int n_inputs = static_cast<int>(inputs.size());
  StepPlan& p = plan_;
  p.row_offset.assign(n_inputs + 1, 0);
  p.n_logit_rows = 0;
  p.tasks.clear();
  // Attention work: multiply-adds of every cache over its entries, per layer.
  int64_t attention_work = 0, max_cache_work = 0;
  for (int i = 0; i < n_inputs; ++i) {
    const StepInput& in = inputs[i];
    const int n = static_cast<int>(in.tokens.size());
    KVBENCH_CHECK(in.cache != nullptr);
    KVBENCH_CHECK(in.logits_begin >= 0 && in.logits_begin <= n);
    const int row0 = p.row_offset[i];
    p.row_offset[i + 1] = row0 + n;
    p.n_logit_rows += n - in.logits_begin;
    p.tasks.push_back({in.cache, row0, in.pos0, n, /*mirror=*/false});
    for (KvCache* m : in.mirrors) {
      KVBENCH_CHECK(m->n_past() == in.cache->n_past(), "a mirror cache must be in the same state");
      p.tasks.push_back({m, row0, in.pos0, n, /*mirror=*/true});
    }
    const int64_t cache_work = (in.cache->n_past() + int64_t{n}) * n * config().q_dim();
    attention_work += cache_work * (1 + static_cast<int64_t>(in.mirrors.size()));
    max_cache_work = std::max(max_cache_work, cache_work);
  }
  p.n_rows = p.row_offset[n_inputs];
  if (p.n_rows == 0) return;
  Reserve(p.n_rows, p.n_logit_rows);
  // The caches are independent: in parallel only when there is enough work per layer (for a tiny
  // model the fork/join costs more than it saves), and only when no cache has enough to split on
  // its own. A cache with that much (a long prefill) spreads its heads and query chunks over the
  // threads itself (PolicyCache), which balances better than whole caches of unequal cost: a
  // lockstep prefill's mirrors mostly compute nothing.
  p.parallel_attention =
      p.tasks.size() > 1 && attention_work >= kMinParallelWork && max_cache_work < kMinParallelWork;
  p.mirror_slice = static_cast<size_t>(p.n_rows) * config().q_dim();
  if (p.tasks.size() > inputs.size()) {
    const size_t need = p.mirror_slice * (p.parallel_attention ? NumThreads() : 1);
    if (mirror_att_.size() < need) mirror_att_.resize(need);
  }
}

void Decoder::Reserve(int n_rows, int n_logit_rows) {
  const ModelConfig& c = model_.config;
  if (n_rows > capacity_rows_) {
    capacity_rows_ = n_rows;
    x_.resize(static_cast<size_t>(n_rows) * c.dim);
    xb_.resize(static_cast<size_t>(n_rows) * c.dim);
    q_.resize(static_cast<size_t>(n_rows) * c.q_dim());
    k_.resize(static_cast<size_t>(n_rows) * c.kv_dim());
    v_.resize(static_cast<size_t>(n_rows) * c.kv_dim());
    att_.resize(static_cast<size_t>(n_rows) * c.q_dim());
    gate_.resize(static_cast<size_t>(n_rows) * c.hidden_dim);
    up_.resize(static_cast<size_t>(n_rows) * c.hidden_dim);
    cos_.resize(static_cast<size_t>(n_rows) * c.rope_dims / 2);
    sin_.resize(static_cast<size_t>(n_rows) * c.rope_dims / 2);
    if (!sliding_rope_freqs_.empty()) {
      sliding_cos_.resize(static_cast<size_t>(n_rows) * c.rope_dims / 2);
      sliding_sin_.resize(static_cast<size_t>(n_rows) * c.rope_dims / 2);
    }
  }
  const size_t logit_floats = static_cast<size_t>(n_logit_rows) * c.vocab_size;
  if (logit_floats > logits_.size()) logits_.resize(logit_floats);
}

// x = token embeddings (times embedding_scale); the RoPE angles of every row, computed once for
// all layers (twice when sliding layers have their own RoPE).
void Decoder::Embed(absl::Span<const StepInput> inputs) {
  const ModelConfig& c = config();
  const WeightMatrix& embedding = model_.weights.token_embedding;
  const int dim = c.dim, half_rope = c.rope_dims / 2;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const StepInput& in = inputs[i];
    for (int t = 0; t < static_cast<int>(in.tokens.size()); ++t) {
      const int row = plan_.row_offset[i] + t;
      const int token = in.tokens[t];
      KVBENCH_CHECK(token >= 0 && token < c.vocab_size, "token id %d out of range", token);
      float* x = &x_[row * dim];
      DequantizeRow(embedding.dtype, embedding.row(token), dim, x);
      if (c.embedding_scale != 1.0f) {
        for (int j = 0; j < dim; ++j) x[j] *= c.embedding_scale;
      }
      RopeCosSin(in.pos0 + t, rope_freqs_, &cos_[row * half_rope], &sin_[row * half_rope]);
      if (!sliding_rope_freqs_.empty()) {
        RopeCosSin(in.pos0 + t, sliding_rope_freqs_, &sliding_cos_[row * half_rope],
                   &sliding_sin_[row * half_rope]);
      }
    }
  }
}

// x += Wo @ attention(q, k, v), with h = norm(x), q = RoPE(Wq @ h), k = RoPE(Wk @ h), v = Wv @ h;
// each cache appends its input's k and v before its queries attend over what it keeps.
// Switches (ModelConfig): biases after the projections, q/k heads normed before RoPE, a sliding
// layer's own RoPE angles, queries scaled by query_scale, the output normed before the add.
void Decoder::Attention(int l) {
  const ModelConfig& c = config();
  const LayerWeights& lw = model_.weights.layers[l];
  const int n_rows = plan_.n_rows;
  const int dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), half_rope = c.rope_dims / 2;
  // Pre-norm, then Q, K and V in one pass.
  for (int r = 0; r < n_rows; ++r)
    RmsNorm(&x_[r * dim], lw.attn_norm, dim, c.rms_eps, &xb_[r * dim]);
  MatMuls({{&lw.wq, q_.data()}, {&lw.wk, k_.data()}, {&lw.wv, v_.data()}}, xb_.data(), n_rows);
  AddBias(lw.bq, n_rows, q_dim, q_.data());
  AddBias(lw.bk, n_rows, kv_dim, k_.data());
  AddBias(lw.bv, n_rows, kv_dim, v_.data());
  if (c.qk_norm) {
    NormHeads(lw.q_norm, n_rows, c.n_heads, c.head_dim, c.rms_eps, q_.data());
    NormHeads(lw.k_norm, n_rows, c.n_kv_heads, c.head_dim, c.rms_eps, k_.data());
  }
  // Queries and keys rotated to their absolute positions.
  const bool own_rope = c.is_sliding(l) && !sliding_rope_freqs_.empty();
  const float* cos = own_rope ? sliding_cos_.data() : cos_.data();
  const float* sin = own_rope ? sliding_sin_.data() : sin_.data();
  for (int r = 0; r < n_rows; ++r) {
    ApplyRope(&q_[r * q_dim], c.n_heads, c.head_dim, c.rope_dims, &cos[r * half_rope],
              &sin[r * half_rope]);
    ApplyRope(&k_[r * kv_dim], c.n_kv_heads, c.head_dim, c.rope_dims, &cos[r * half_rope],
              &sin[r * half_rope]);
  }
  if (c.query_scale != 1.0f) {
    for (size_t i = 0; i < static_cast<size_t>(n_rows) * q_dim; ++i) q_[i] *= c.query_scale;
  }
  // The caches, each over its input's rows (mirrors included: they observe the same attention).
  const int n_tasks = static_cast<int>(plan_.tasks.size());
  ParallelFailure failure;  // a cache's failed check, rethrown here (base/case_guard.h)
#pragma omp parallel for schedule(dynamic, 1) if (plan_.parallel_attention)
  for (int t = 0; t < n_tasks; ++t)
    failure.Run([&] {
      const AttentionTask& task = plan_.tasks[t];
      const int r0 = task.row0;
      // A mirror's output equals its input's: if it writes one, to this thread's slice, discarded.
      float* out = task.mirror
                       ? &mirror_att_[plan_.mirror_slice * omp_get_thread_num() + r0 * q_dim]
                       : &att_[r0 * q_dim];
      task.cache->Append(l, &k_[r0 * kv_dim], &v_[r0 * kv_dim]);
      if (task.mirror) {
        task.cache->AttendMirror(l, &q_[r0 * q_dim], out);
      } else {
        task.cache->Attend(l, &q_[r0 * q_dim], out);
      }
    });
  failure.Rethrow();
  // Output projection into the residual stream.
  MatMul(lw.wo, att_.data(), n_rows, xb_.data());
  AddBias(lw.bo, n_rows, dim, xb_.data());
  if (c.sandwich_norms) NormRows(lw.attn_post_norm, n_rows, dim, c.rms_eps, xb_.data());
  AddResidual(xb_.data(), static_cast<size_t>(n_rows) * dim, x_.data());
}

// x += W_down @ (act(W_gate @ h) * (W_up @ h)), with h = norm(x) and act silu or GELU-tanh;
// with sandwich norms the FFN's output is normed before the add.
void Decoder::FeedForward(int l) {
  const ModelConfig& c = config();
  const LayerWeights& lw = model_.weights.layers[l];
  const int n_rows = plan_.n_rows, dim = c.dim;
  for (int r = 0; r < n_rows; ++r)
    RmsNorm(&x_[r * dim], lw.ffn_norm, dim, c.rms_eps, &xb_[r * dim]);
  MatMuls({{&lw.w_gate, gate_.data()}, {&lw.w_up, up_.data()}}, xb_.data(), n_rows);
  if (c.activation == ModelConfig::Activation::kGeluTanh) {
    GeluTanhGlu(gate_.data(), up_.data(), n_rows * c.hidden_dim);
  } else {
    SwiGlu(gate_.data(), up_.data(), n_rows * c.hidden_dim);
  }
  MatMul(lw.w_down, gate_.data(), n_rows, xb_.data());
  if (c.sandwich_norms) NormRows(lw.ffn_post_norm, n_rows, dim, c.rms_eps, xb_.data());
  AddResidual(xb_.data(), static_cast<size_t>(n_rows) * dim, x_.data());
}

// logits = classifier @ norm(x), only for the rows whose logits were asked for: gathered into xb_,
// one MatMul, scattered to each input's buffer.
void Decoder::Classify(absl::Span<const StepInput> inputs) {
  if (plan_.n_logit_rows == 0) return;
  const ModelConfig& c = config();
  const ModelWeights& w = model_.weights;
  const int dim = c.dim;
  int g = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (int t = inputs[i].logits_begin; t < static_cast<int>(inputs[i].tokens.size()); ++t, ++g) {
      RmsNorm(&x_[(plan_.row_offset[i] + t) * dim], w.final_norm, dim, c.rms_eps, &xb_[g * dim]);
    }
  }
  MatMul(w.classifier, xb_.data(), plan_.n_logit_rows, logits_.data());
  if (c.final_logit_softcap > 0.0f) {
    const float cap = c.final_logit_softcap;
    for (size_t i = 0; i < static_cast<size_t>(plan_.n_logit_rows) * c.vocab_size; ++i)
      logits_[i] = cap * std::tanh(logits_[i] / cap);
  }
  g = 0;
  for (const StepInput& in : inputs) {
    const int n = static_cast<int>(in.tokens.size()) - in.logits_begin;
    std::copy_n(&logits_[static_cast<size_t>(g) * c.vocab_size],
                static_cast<size_t>(n) * c.vocab_size, in.logits);
    g += n;
  }
}

}  // namespace kvbench
