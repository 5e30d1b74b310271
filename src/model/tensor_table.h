// The one table of a model's tensors: for a config and a naming (OpenLM, spec §5; HF
// Llama/Mistral, spec §8.1; GGUF, docs/QUANTIZATION.md), every stored tensor with its name,
// its shape from the config, the weights it holds (row blocks of fused tensors such as
// in_proj and w12), llama.cpp's rotary row order, whether it may be absent, and how
// up-training initialises it. The inference binder, GGUF reading and writing, the training
// layout, linearisation, scratch initialisation and synthetic models all iterate it, so a
// tensor is added in one place.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "supra/config.h"
#include "supra/error.h"

namespace supra {

// What a weight does in the architecture, whatever its stored name.
enum class TensorRole : std::uint8_t {
  Embed, Output, FinalNorm,                      // model
  AttnNorm, Wq, Wk, Wv, Wo,                      // attention
  FfnNorm, Gate, Up, Down,                       // SwiGLU feed-forward
  FeatQ, FeatQBias, FeatK, FeatKBias,            // SUPRA feature maps (spec §3.2)
  QNorm, KNorm,                                  // SUPRA with apply_qk_norm
};
const char* role_name(TensorRole role);

enum class TensorNaming { OpenLM, HuggingFace, Gguf };

// How a tensor starts when it does not come from a teacher (up-training, spec §8.1), after
// open_lm's Transformer init for the teacher's weights and torch's nn.Linear for the new ones.
enum class TensorInit {
  Ones,           // norm gains
  Normal,         // truncated normal (±3σ), σ = 1/√fan_in
  ResidualNormal, // the same, scaled by 1/√(2·(layer+1)): projections that write the residual
  LinearUniform,  // U(−1/√fan_in, 1/√fan_in): nn.Linear's default, weight and bias alike
};

// Rows [.., .. + rows) of a stored tensor that hold one role. `alias` (when set) is a second
// role served by the same rows: the embedding is the output head of tied models that store
// none, and one feature map serves queries and keys when H == Hkv.
struct TensorPart {
  TensorRole role;
  std::int64_t rows = 0;
  bool has_alias = false;
  TensorRole alias = TensorRole::Embed;
};

struct TensorEntry {
  std::string name;                  // under the naming, without a checkpoint-wide prefix
  int layer = -1;                    // -1: not in a layer
  std::int64_t rows = 0, cols = 0;   // cols == 0: a vector of `rows` values
  std::vector<TensorPart> parts;     // in row order; one unless the tensor is fused
  int rope_heads = 0;                // > 0: q/k rows of this many heads in llama.cpp's pair order
  bool optional = false;             // may be absent (the output head of tied models)
  TensorInit init = TensorInit::Normal;
  std::int64_t fan_in = 0;           // the input width the init scales by (a bias: its weight's)

  bool is_vector() const { return cols == 0; }
  std::vector<std::int64_t> shape() const;
  // The matrix that makes the logits (the embedding when tied and no head is stored).
  bool is_output_projection() const;
};

// Every tensor a model of `config` stores under `naming`, in that format's customary order
// (the published state dict for OpenLM, llama.cpp's for GGUF).
std::vector<TensorEntry> tensor_table(const ModelConfig& config, TensorNaming naming);

// The naming of a checkpoint for `config` (GGUF when the file says so, else the config's
// format), and the prefix its names carry: HF-saved OpenLM checkpoints put "model." before
// every OpenLM name, raw open_lm ones do not.
TensorNaming naming_for(const ModelConfig& config, bool is_gguf);
std::string stored_prefix(TensorNaming naming, const std::function<bool(const std::string&)>& has);

// Buffers some exporters store that carry no information (recomputed from the config).
bool ignorable_tensor(const std::string& name);

// The field of a model's weights that holds a role: `weights` is any struct with the fields
// of model/weights.h (Weights, or training's layout of parameters), layer -1 for the
// model-wide ones. Throws supra::Error for a role that is not a matrix (resp. a vector).
template <class Weights>
auto& matrix_field(Weights& w, int layer, TensorRole role) {
  if (layer < 0 && role == TensorRole::Embed) return w.embed;
  if (layer < 0 && role == TensorRole::Output) return w.output;
  if (layer >= 0) {
    auto& l = w.layers.at(static_cast<std::size_t>(layer));
    switch (role) {
      case TensorRole::Wq: return l.wq;
      case TensorRole::Wk: return l.wk;
      case TensorRole::Wv: return l.wv;
      case TensorRole::Wo: return l.wo;
      case TensorRole::Gate: return l.w_gate;
      case TensorRole::Up: return l.w_up;
      case TensorRole::Down: return l.w_down;
      case TensorRole::FeatQ: return l.feat_q;
      case TensorRole::FeatK: return l.feat_k;
      default: break;
    }
  }
  throw Error(std::string("no matrix field for role ") + role_name(role));
}

template <class Weights>
auto& vector_field(Weights& w, int layer, TensorRole role) {
  if (layer < 0 && role == TensorRole::FinalNorm) return w.final_norm;
  if (layer >= 0) {
    auto& l = w.layers.at(static_cast<std::size_t>(layer));
    switch (role) {
      case TensorRole::AttnNorm: return l.attn_norm;
      case TensorRole::FfnNorm: return l.ffn_norm;
      case TensorRole::FeatQBias: return l.feat_q_bias;
      case TensorRole::FeatKBias: return l.feat_k_bias;
      case TensorRole::QNorm: return l.q_norm;
      case TensorRole::KNorm: return l.k_norm;
      default: break;
    }
  }
  throw Error(std::string("no vector field for role ") + role_name(role));
}

// "[4096, 32000]".
std::string shape_string(const std::vector<std::int64_t>& shape);

// "<what>: unexpected tensors for this config: a, b, ... (N in all)"; empty `extra`: none.
std::string unexpected_tensors_message(const std::string& what, const std::vector<std::string>& extra);

}  // namespace supra
