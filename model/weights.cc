#include "model/weights.h"

namespace kvbench {

size_t ModelWeights::bytes_per_token() const {
  size_t total = classifier.bytes();
  for (const LayerWeights& l : layers) {
    total += l.wq.bytes() + l.wk.bytes() + l.wv.bytes() + l.wo.bytes() + l.w_gate.bytes() +
             l.w_up.bytes() + l.w_down.bytes();
  }
  return total;
}

}  // namespace kvbench
