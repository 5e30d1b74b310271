// Weights rewritten for decode: Q8_0/Q4_0 matrices into the layout the CPU's decode kernels read
// (kernels/interleave.h).
#include <map>

#include "io/mapped_file.h"
#include "kernels/interleave.h"
#include "model/weights.h"

namespace supra {
namespace {

using kernels::Matrix;

std::vector<Matrix*> all_matrices(Weights& w) {
  std::vector<Matrix*> all = {&w.embed, &w.output};
  for (LayerWeights& l : w.layers)
    for (Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.feat_q, &l.feat_k})
      all.push_back(m);
  return all;
}

// The writable address of `data` when it lies in one of the weights' own copies.
std::byte* owned_address(Weights& w, const std::byte* data) {
  for (std::vector<std::byte>& buffer : w.owned)
    if (data >= buffer.data() && data < buffer.data() + buffer.size()) return buffer.data() + (data - buffer.data());
  return nullptr;
}

}  // namespace

void interleave_for_decode(Weights& w) {
  std::map<const std::byte*, Matrix> done;  // source bytes → their rewritten matrix
  for (Matrix* m : all_matrices(w)) {
    if (m->empty()) continue;
    if (auto it = done.find(m->data); it != done.end()) {  // a tied output, a shared feature map
      *m = it->second;
      continue;
    }
    // An untied embedding is only looked up, a row at a time: its plain rows serve that best.
    if (m == &w.embed && w.embed.data != w.output.data) continue;
    if (kernels::decode_layout(*m) == m->layout) continue;
    const std::byte* source = m->data;
    const std::size_t bytes = m->row_bytes() * static_cast<std::size_t>(m->rows);
    std::byte* target = owned_address(w, source);
    if (!target) target = w.owned.emplace_back(bytes).data();
    *m = kernels::lay_out_for_decode(target, *m);
    // The mapped file's pages are read once here; dropping them keeps the resident size at
    // one copy of the weights.
    if (target != source) release_pages(source, bytes);
    done.emplace(source, *m);
  }
}

Weights bind_for_inference(const Checkpoint& checkpoint, const ModelConfig& config) {
  Weights w = bind_weights(checkpoint, config);
  interleave_for_decode(w);
  return w;
}

}  // namespace supra
