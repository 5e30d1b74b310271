// OpProfile: where a forward pass spends its time, per kind of operation, for
// `supra bench --profile` (supra/bench.h). The decoder stack times each operation when given a
// profile (model/op_timer.h) and does nothing otherwise.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace supra {

enum class Op {
  Embed,            // embedding rows
  Norm,             // RMSNorm before each sublayer and at the end
  AttnProjection,   // q, k, v
  FeatureMap,       // SUPRA: feature projections, bias, ReLU, GQA repeat, qk-norm, rotary; softmax: rotary
  AttentionCore,    // recurrent step / chunked block / softmax over the cache (per sequence)
  GroupNorm,        // SUPRA: per-head GroupNorm
  OutProjection,    // attention output projection
  FfnProjection,    // gate, up, down
  FfnActivation,    // SwiGLU and the residual adds
  Logits,           // final norm rows and the output projection
};
inline constexpr int kOpCount = 10;

std::string_view op_name(Op op);

struct OpProfile {
  struct Entry {
    double seconds = 0;
    std::int64_t calls = 0;
    std::int64_t weight_bytes = 0;  // bytes of weights the operation's matrix products read
  };
  std::array<Entry, kOpCount> entries{};

  Entry& operator[](Op op) { return entries[static_cast<std::size_t>(op)]; }
  const Entry& operator[](Op op) const { return entries[static_cast<std::size_t>(op)]; }
  double total_seconds() const;
};

}  // namespace supra
