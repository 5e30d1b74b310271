// Binding a checkpoint through the tensor table, with shape and type checks.
#include "model/weights.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "model/gguf_layout.h"
#include "supra/error.h"

namespace supra {
namespace {

using kernels::Matrix;

bool is_weight_type(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16 || is_block_quantized(t);
}

// The alignment kernels may assume for a matrix's rows: blocks are read bytewise.
std::size_t alignment_of(DType t) { return is_block_quantized(t) ? 2 : dtype_size(t); }

// Looks tensors up by name, checks shape and type, and records which names were used so
// that leftovers can be reported.
class Binder {
 public:
  Binder(const Checkpoint& ckpt, std::string prefix, Weights& w) : ckpt_(ckpt), prefix_(std::move(prefix)), w_(w) {}

  bool has(const std::string& name) const { return ckpt_.has(prefix_ + name); }

  Matrix matrix(const TensorEntry& e) {
    const TensorView& t = view(e);
    const std::byte* data = t.data;
    if (e.rope_heads > 0) {  // back from llama.cpp's rotary row order to HF's (a copy)
      const std::size_t rb = dtype_row_bytes(t.dtype, e.cols);
      auto& copy = w_.owned.emplace_back(t.nbytes);
      for (std::int64_t s = 0; s < e.rows; ++s)
        std::memcpy(copy.data() + static_cast<std::size_t>(rope_hf_row(s, e.rows, e.rope_heads)) * rb,
                    t.data + static_cast<std::size_t>(s) * rb, rb);
      data = copy.data();
    } else if (reinterpret_cast<std::uintptr_t>(data) % alignment_of(t.dtype) != 0) {
      auto& copy = w_.owned.emplace_back(t.data, t.data + t.nbytes);  // std::vector aligns for any scalar
      data = copy.data();
    }
    return Matrix{t.dtype, e.rows, e.cols, data};
  }

  std::vector<float> vector(const TensorEntry& e) { return to_f32(view(e)); }

  void check_all_used() const {
    std::vector<std::string> extra;
    for (const auto& name : ckpt_.names())
      if (!used_.count(name) && !ignorable_tensor(name)) extra.push_back(name);
    if (!extra.empty()) throw Error(unexpected_tensors_message(ckpt_.describe(), extra));
  }

 private:
  const TensorView& view(const TensorEntry& e) {
    const std::string full = prefix_ + e.name;
    const TensorView& t = ckpt_.get(full);
    used_.insert(full);
    if (t.shape != e.shape())
      throw Error(ckpt_.describe() + ": tensor " + full + " has shape " + t.shape_string() + ", expected " +
                  shape_string(e.shape()));
    if (!is_weight_type(t.dtype))
      throw Error(ckpt_.describe() + ": tensor " + full + " has type " + std::string(dtype_name(t.dtype)) +
                  ", expected F32, BF16, F16, Q8_0 or Q4_0");
    return t;
  }

  const Checkpoint& ckpt_;
  std::string prefix_;
  Weights& w_;
  std::set<std::string> used_;
};

// Fills the fields of every role the entry holds (and their aliases).
void bind_entry(Binder& b, const TensorEntry& e, Weights& w) {
  if (e.is_vector()) {
    const std::vector<float> v = b.vector(e);
    const TensorPart& p = e.parts.front();
    vector_field(w, e.layer, p.role) = v;
    if (p.has_alias) vector_field(w, e.layer, p.alias) = v;
    return;
  }
  const Matrix m = b.matrix(e);
  std::int64_t row = 0;
  for (const TensorPart& p : e.parts) {
    const Matrix part = e.parts.size() == 1 ? m : m.row_slice(row, p.rows);
    matrix_field(w, e.layer, p.role) = part;
    if (p.has_alias) matrix_field(w, e.layer, p.alias) = part;
    row += p.rows;
  }
}

}  // namespace

Weights bind_weights(const Checkpoint& checkpoint, const ModelConfig& config) {
  const std::optional<std::string> arch = checkpoint.metadata("general.architecture");
  if (arch && *arch != gguf_architecture(config))
    throw Error(checkpoint.describe() + ": general.architecture is \"" + *arch + "\" but config.json describes a \"" +
                gguf_architecture(config) + "\" model");
  const TensorNaming naming = naming_for(config, arch.has_value());
  Weights w;
  w.layers.resize(static_cast<std::size_t>(config.n_layers));
  Binder b(checkpoint, stored_prefix(naming, [&](const std::string& name) { return checkpoint.has(name); }), w);
  // A tied head that is stored anyway (llama.cpp's converter writes output.weight) is used.
  for (const TensorEntry& e : tensor_table(config, naming))
    if (!e.optional || b.has(e.name)) bind_entry(b, e, w);
  b.check_all_used();
  return w;
}

}  // namespace supra
