#include "model/decoder.h"

#include <omp.h>

#include <algorithm>

#include "base/check.h"
#include "model/ops.h"
#include "model/rope.h"

namespace kvbench {

Decoder::Decoder(const Model& model) : model_(model) {}

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
  }
  const size_t logit_floats = static_cast<size_t>(n_logit_rows) * c.vocab_size;
  if (logit_floats > logits_.size()) logits_.resize(logit_floats);
}

void Decoder::Forward(absl::Span<const StepInput> inputs) {
  const ModelConfig& c = model_.config;
  const ModelWeights& w = model_.weights;
  const int n_inputs = static_cast<int>(inputs.size());
  row_offset_.assign(n_inputs + 1, 0);
  int n_logit_rows = 0;
  for (int i = 0; i < n_inputs; ++i) {
    const StepInput& in = inputs[i];
    KVBENCH_CHECK(in.cache != nullptr);
    KVBENCH_CHECK(in.logits_begin >= 0 && in.logits_begin <= static_cast<int>(in.tokens.size()));
    row_offset_[i + 1] = row_offset_[i] + static_cast<int>(in.tokens.size());
    n_logit_rows += static_cast<int>(in.tokens.size()) - in.logits_begin;
  }
  const int n_rows = row_offset_[n_inputs];
  if (n_rows == 0) return;
  Reserve(n_rows, n_logit_rows);
  const int dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), half_rope = c.rope_dims / 2;

  // Embeddings and the RoPE angles of every row, computed once for all layers.
  for (int i = 0; i < n_inputs; ++i) {
    const StepInput& in = inputs[i];
    for (int t = 0; t < static_cast<int>(in.tokens.size()); ++t) {
      const int row = row_offset_[i] + t;
      const int token = in.tokens[t];
      KVBENCH_CHECK(token >= 0 && token < c.vocab_size, "token id %d out of range", token);
      DequantizeRow(w.token_embedding.dtype, w.token_embedding.row(token), dim, &x_[row * dim]);
      RopeCosSin(in.pos0 + t, c.rope_dims, c.rope_theta, &cos_[row * half_rope],
                 &sin_[row * half_rope]);
    }
    in.cache->BeginStep(in.pos0, static_cast<int>(in.tokens.size()));
    for (KvCache* m : in.mirrors) {
      KVBENCH_CHECK(m->n_past() == in.cache->n_past(), "a mirror cache must be in the same state");
      m->BeginStep(in.pos0, static_cast<int>(in.tokens.size()));
    }
  }

  // Attention tasks: every input's cache and each of its mirrors (all independent), in parallel
  // only when there is enough of it per layer (multiply-adds over the cached entries): for a tiny
  // model the fork/join costs more than it saves. A mirror's output is discarded, into its
  // thread's slice of mirror_att_.
  attention_tasks_.clear();
  int64_t attention_work = 0;
  for (int i = 0; i < n_inputs; ++i) {
    const int64_t n = static_cast<int64_t>(inputs[i].tokens.size());
    attention_tasks_.push_back({i, inputs[i].cache, false});
    for (KvCache* m : inputs[i].mirrors) attention_tasks_.push_back({i, m, true});
    attention_work += (inputs[i].cache->n_past() + n) * n * q_dim *
                      (1 + static_cast<int64_t>(inputs[i].mirrors.size()));
  }
  const int n_tasks = static_cast<int>(attention_tasks_.size());
  const bool parallel_attention = n_tasks > 1 && attention_work >= (int64_t{1} << 20);
  const size_t mirror_slice = static_cast<size_t>(n_rows) * q_dim;
  if (n_tasks > n_inputs) {
    const size_t need = mirror_slice * (parallel_attention ? NumThreads() : 1);
    if (mirror_att_.size() < need) mirror_att_.resize(need);
  }

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    for (int r = 0; r < n_rows; ++r)
      RmsNorm(&x_[r * dim], lw.attn_norm, dim, c.rms_eps, &xb_[r * dim]);
    MatMuls({{&lw.wq, q_.data()}, {&lw.wk, k_.data()}, {&lw.wv, v_.data()}}, xb_.data(), n_rows);
    for (int r = 0; r < n_rows; ++r) {
      ApplyRope(&q_[r * q_dim], c.n_heads, c.head_dim, c.rope_dims, &cos_[r * half_rope],
                &sin_[r * half_rope]);
      ApplyRope(&k_[r * kv_dim], c.n_kv_heads, c.head_dim, c.rope_dims, &cos_[r * half_rope],
                &sin_[r * half_rope]);
    }
#pragma omp parallel for schedule(dynamic, 1) if (parallel_attention)
    for (int t = 0; t < n_tasks; ++t) {
      const AttentionTask& task = attention_tasks_[t];
      const int r0 = row_offset_[task.input];
      float* out = task.mirror ? &mirror_att_[mirror_slice * omp_get_thread_num() + r0 * q_dim]
                               : &att_[r0 * q_dim];
      task.cache->Append(l, &k_[r0 * kv_dim], &v_[r0 * kv_dim]);
      task.cache->Attend(l, &q_[r0 * q_dim], out);
    }
    MatMul(lw.wo, att_.data(), n_rows, xb_.data());
    for (size_t j = 0; j < static_cast<size_t>(n_rows) * dim; ++j) x_[j] += xb_[j];

    for (int r = 0; r < n_rows; ++r)
      RmsNorm(&x_[r * dim], lw.ffn_norm, dim, c.rms_eps, &xb_[r * dim]);
    MatMuls({{&lw.w_gate, gate_.data()}, {&lw.w_up, up_.data()}}, xb_.data(), n_rows);
    SwiGlu(gate_.data(), up_.data(), n_rows * c.hidden_dim);
    MatMul(lw.w_down, gate_.data(), n_rows, xb_.data());
    for (size_t j = 0; j < static_cast<size_t>(n_rows) * dim; ++j) x_[j] += xb_[j];
  }
  for (const StepInput& in : inputs) {
    in.cache->EndStep();
    for (KvCache* m : in.mirrors) m->EndStep();
  }

  // Classifier only for the rows whose logits were asked for: gather them, one MatMul, scatter.
  if (n_logit_rows == 0) return;
  int g = 0;
  for (int i = 0; i < n_inputs; ++i) {
    for (int t = inputs[i].logits_begin; t < static_cast<int>(inputs[i].tokens.size()); ++t, ++g) {
      RmsNorm(&x_[(row_offset_[i] + t) * dim], w.final_norm, dim, c.rms_eps, &xb_[g * dim]);
    }
  }
  MatMul(w.classifier, xb_.data(), n_logit_rows, logits_.data());
  g = 0;
  for (const StepInput& in : inputs) {
    const int n = static_cast<int>(in.tokens.size()) - in.logits_begin;
    std::copy_n(&logits_[static_cast<size_t>(g) * c.vocab_size],
                static_cast<size_t>(n) * c.vocab_size, in.logits);
    g += n;
  }
}

}  // namespace kvbench
