#include "supra/op_profile.h"

namespace supra {

std::string_view op_name(Op op) {
  switch (op) {
    case Op::Embed: return "embedding";
    case Op::Norm: return "rmsnorm";
    case Op::AttnProjection: return "q/k/v projections";
    case Op::FeatureMap: return "feature maps, rotary";
    case Op::AttentionCore: return "attention core";
    case Op::GroupNorm: return "groupnorm";
    case Op::OutProjection: return "attention output projection";
    case Op::FfnProjection: return "ffn projections";
    case Op::FfnActivation: return "swiglu, residual adds";
    case Op::Logits: return "final norm, logits";
  }
  return "?";
}

double OpProfile::total_seconds() const {
  double total = 0;
  for (const Entry& e : entries) total += e.seconds;
  return total;
}

}  // namespace supra
