// Synthetic models: configs of known shapes and random weights generated row-parallel with a
// counter-based generator (each row's stream depends only on the seed, the matrix and the row,
// so the result does not depend on the thread count).
#include "convert/synthetic.h"

#include <cmath>
#include <cstring>

#include "kernels/interleave.h"
#include "model/gguf_layout.h"
#include "model/model_internals.h"
#include "supra/error.h"
#include "supra/tensor.h"

namespace supra {
namespace {

struct Shape {
  const char* name;
  const char* json;
};

// config.json text of each shape: OpenLM for SUPRA (spec §7.1 fields), HF for the teachers.
constexpr Shape kShapes[] = {
    {"mistral-supra-7b",
     R"({"model_type": "openlm", "norm_type": "rms_norm", "ffn_type": "swiglu", "dim": 4096, "intermediate_dim_ffn": 14336, "n_layers": 32, "n_heads": 32,
         "n_heads_kv": 8, "vocab_size": 32000, "norm_eps": 1e-5, "seq_len": 2048, "weight_tying": false,
         "apply_qk_norm": false, "qk_head_dim": 128, "v_head_dim": 128, "attn_name": "linear_attn",
         "positional_embedding_type": "rotary", "use_decay": true, "use_retnet_slopes": false})"},
    {"mistral-7b",
     R"({"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
         "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0})"},
    {"supra-1b",
     R"({"model_type": "openlm", "norm_type": "rms_norm", "ffn_type": "swiglu", "dim": 2048, "intermediate_dim_ffn": 5632, "n_layers": 22, "n_heads": 32,
         "n_heads_kv": 4, "vocab_size": 32000, "norm_eps": 1e-5, "qk_head_dim": 64, "v_head_dim": 64,
         "attn_name": "linear_attn", "positional_embedding_type": "rotary", "use_decay": true})"},
    {"llama-1b",
     R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
         "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0})"},
    {"tiny",
     R"({"model_type": "openlm", "norm_type": "rms_norm", "ffn_type": "swiglu", "dim": 64, "intermediate_dim_ffn": 96, "n_layers": 2, "n_heads": 4,
         "n_heads_kv": 2, "vocab_size": 256, "norm_eps": 1e-5, "qk_head_dim": 16, "v_head_dim": 16,
         "attn_name": "linear_attn", "positional_embedding_type": "rotary", "use_decay": true})"},
};

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Generator {
 public:
  Generator(DType dtype, std::uint64_t seed, bool interleave) : dtype_(dtype), seed_(seed), interleave_(interleave) {}

  kernels::Matrix matrix(SyntheticModel& m, std::int64_t rows, std::int64_t cols) {
    return matrix(m, rows, cols, dtype_);
  }

  kernels::Matrix matrix(SyntheticModel& m, std::int64_t rows, std::int64_t cols, DType dtype) {
    if (is_block_quantized(dtype) && cols % kQuantBlock != 0)
      throw Error("synthetic model: " + std::string(dtype_name(dtype)) + " needs widths that are multiples of 32, got " +
                  std::to_string(cols));
    const std::size_t row_bytes = dtype_row_bytes(dtype, cols);
    auto& buf = m.buffers.emplace_back(new std::byte[row_bytes * static_cast<std::size_t>(rows)]);
    std::byte* base = buf.get();
    const float a = float(1.0 / std::sqrt(double(cols)));
    const std::uint64_t id = ++count_;
#pragma omp parallel for schedule(dynamic, 64)
    for (std::int64_t r = 0; r < rows; ++r) {
      std::uint64_t s = seed_ * 0x100000001B3ull ^ (id << 40) ^ static_cast<std::uint64_t>(r);
      fill_row(dtype, base + static_cast<std::size_t>(r) * row_bytes, cols, a, s);
    }
    const kernels::Matrix matrix{dtype, rows, cols, base};
    return interleave_ ? kernels::lay_out_for_decode(base, matrix) : matrix;
  }

  std::vector<float> vector(std::int64_t n, float value) const { return std::vector<float>(static_cast<std::size_t>(n), value); }

 private:
  static void fill_row(DType dtype, std::byte* row, std::int64_t cols, float a, std::uint64_t& s) {
    switch (dtype) {
      case DType::F32:
      case DType::BF16:
      case DType::F16: {
        // Bit patterns built directly (no float conversion per element, which made a 7B model
        // take minutes): random sign and mantissa, magnitude in [a/32, a).
        int e = 0;
        std::frexp(a, &e);  // a ∈ [2^(e-1), 2^e)
        const int esize = dtype == DType::F32 ? 4 : 2;
        for (std::int64_t c = 0; c < cols; c += 4) {
          std::uint64_t r = splitmix(s);
          for (std::int64_t k = c; k < std::min(cols, c + 4); ++k, r >>= 16) {
            const std::uint32_t sign = r & 1, scale = (r >> 1) & 3, mant = std::uint32_t(r >> 3) & 0x1FFF;
            const int exp2 = e - 2 - int(scale);  // value = ±1.m · 2^exp2
            std::uint32_t bits;
            if (dtype == DType::F16)
              bits = (sign << 15) | (std::uint32_t(exp2 + 15) << 10) | (mant & 0x3FF);
            else if (dtype == DType::BF16)
              bits = (sign << 15) | (std::uint32_t(exp2 + 127) << 7) | (mant & 0x7F);
            else
              bits = (sign << 31) | (std::uint32_t(exp2 + 127) << 23) | (mant << 10);
            std::memcpy(row + k * esize, &bits, static_cast<std::size_t>(esize));  // little-endian
          }
        }
        return;
      }
      case DType::Q8_0:
      case DType::Q4_0: {
        const bool q4 = dtype == DType::Q4_0;
        const std::size_t block_bytes = q4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
        const std::uint16_t d = f16_bits(a / (q4 ? 8.0f : 127.0f));
        for (std::int64_t b = 0; b < cols / kQuantBlock; ++b) {
          std::byte* blk = row + static_cast<std::size_t>(b) * block_bytes;
          std::memcpy(blk, &d, 2);
          for (std::size_t i = 2; i < block_bytes; i += 8) {
            const std::uint64_t r = splitmix(s);
            std::memcpy(blk + i, &r, std::min<std::size_t>(8, block_bytes - i));
          }
        }
        return;
      }
      default:
        throw Error("synthetic model: unsupported weight type " + std::string(dtype_name(dtype)));
    }
  }

  // f32 -> binary16 for the small normal values used here (|v| < 1, round to nearest).
  static std::uint16_t f16_bits(float v) {
    if (v == 0.0f) return 0;
    int e = 0;
    const float f = std::frexp(std::fabs(v), &e);  // v = f · 2^e, f in [0.5, 1)
    const int exponent = e - 1 + 15;
    if (exponent <= 0) return 0;  // below the normal range: flush (never hit by the shapes here)
    const int mantissa = std::min(1023, int(std::lround((2.0f * f - 1.0f) * 1024.0f)));
    return std::uint16_t((v < 0 ? 0x8000 : 0) | (exponent << 10) | mantissa);
  }

  DType dtype_;
  std::uint64_t seed_;
  bool interleave_;
  std::uint64_t count_ = 0;
};

}  // namespace

std::vector<std::string> synthetic_names() {
  std::vector<std::string> names;
  for (const Shape& s : kShapes) names.emplace_back(s.name);
  return names;
}

std::string synthetic_config_json(std::string_view name) {
  for (const Shape& s : kShapes)
    if (name == s.name) return std::string(s.json) + "\n";
  std::string known;
  for (const Shape& s : kShapes) known += (known.empty() ? "" : ", ") + std::string(s.name);
  throw Error("unknown synthetic shape \"" + std::string(name) + "\" (known: " + known + ")");
}

ModelConfig synthetic_config(std::string_view name) {
  return ModelConfig::parse(synthetic_config_json(name), "synthetic shape " + std::string(name));
}

SyntheticModel make_synthetic(const ModelConfig& c, DType dtype, SyntheticUse use, std::uint64_t seed) {
  if (dtype != DType::F32 && dtype != DType::BF16 && dtype != DType::F16 && !is_block_quantized(dtype))
    throw Error("synthetic model: unsupported weight type " + std::string(dtype_name(dtype)));
  SyntheticModel m;
  m.config = c;
  Generator g(dtype, seed, use == SyntheticUse::Inference);
  Weights& w = m.weights;
  w.layers.resize(static_cast<std::size_t>(c.n_layers));
  // The GGUF naming stores no fused tensors: every matrix is generated (and interleaved) alone.
  for (const TensorEntry& e : tensor_table(c, TensorNaming::Gguf)) {
    if (e.optional) continue;  // a tied head is the embedding (its part's alias)
    const TensorPart& p = e.parts.front();
    if (e.is_vector()) {
      // Norm gains of 1 and small biases: activations stay in range through any depth.
      vector_field(w, e.layer, p.role) = g.vector(e.rows, e.init == TensorInit::Ones ? 1.0f : 0.01f);
      if (p.has_alias) vector_field(w, e.layer, p.alias) = vector_field(w, e.layer, p.role);
      continue;
    }
    kernels::Matrix& mat = matrix_field(w, e.layer, p.role);
    mat = e.is_output_projection() ? g.matrix(m, e.rows, e.cols, output_projection_type(dtype)) : g.matrix(m, e.rows, e.cols);
    if (p.has_alias) matrix_field(w, e.layer, p.alias) = mat;
  }
  return m;
}

Model make_synthetic_model(std::string_view shape, DType matrix_type, std::uint64_t seed) {
  auto synthetic =
      std::make_shared<SyntheticModel>(make_synthetic(synthetic_config(shape), matrix_type, SyntheticUse::Inference, seed));
  return ModelInternals::from_weights(synthetic->config, synthetic->weights, synthetic,
                                      "synthetic " + std::string(shape) + " (" + std::string(dtype_name(matrix_type)) + ")");
}

}  // namespace supra
