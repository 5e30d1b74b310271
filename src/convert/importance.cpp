// Collecting, writing and reading importance matrices (supra/quantize.h).
#include "supra/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "io/gguf.h"
#include "model/gguf_layout.h"
#include "model/model_internals.h"
#include "supra/checkpoint.h"
#include "supra/error.h"

namespace supra {
namespace {

constexpr const char* kSum2Suffix = ".in_sum2";
constexpr const char* kCountsSuffix = ".counts";

std::vector<std::byte> float_bytes(const std::vector<float>& values) {
  std::vector<std::byte> out(values.size() * sizeof(float));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::vector<float> read_floats(const TensorView& t, const std::string& what) {
  if (t.dtype != DType::F32) throw Error(what + ": tensor " + t.name + " is " + std::string(dtype_name(t.dtype)) + ", not F32");
  std::vector<float> values(static_cast<std::size_t>(t.numel()));
  std::memcpy(values.data(), t.data, values.size() * sizeof(float));
  for (float v : values)
    if (!std::isfinite(v) || v < 0) throw Error(what + ": tensor " + t.name + " holds a negative or non-finite value");
  return values;
}

// The width of a single-matrix entry: llama.cpp writes [n_mat, cols] with n_mat = 1 for dense
// layers (more only for mixture-of-experts weights, which supra has none of).
std::int64_t entry_width(const TensorView& t, const std::string& what) {
  if (t.shape.size() == 1) return t.shape[0];
  if (t.shape.size() == 2 && t.shape[0] == 1) return t.shape[1];
  throw Error(what + ": tensor " + t.name + " has shape " + t.shape_string() +
              "; only single-matrix entries [1, cols] are supported");
}

std::int64_t u32_value(const GgufMetadata& metadata, const char* key) {
  const GgufValue* v = gguf_find(metadata, key);
  return v && !v->is_array() && !v->ints.empty() ? v->ints[0] : 0;
}

}  // namespace

std::vector<float> ImportanceMatrix::column_weights(const std::string& tensor, std::int64_t cols) const {
  const auto it = entries.find(tensor);
  if (it == entries.end() || it->second.count == 0) return {};
  const ImportanceEntry& e = it->second;
  if (static_cast<std::int64_t>(e.sum2.size()) != cols)
    throw Error("importance matrix: " + tensor + " has " + std::to_string(e.sum2.size()) + " columns, the model " +
                std::to_string(cols));
  // A column the calibration text never excited keeps a little weight (a thousandth of the
  // average), so its weights are still fitted rather than left to whatever is cheapest.
  double total = 0;
  for (double v : e.sum2) total += v;
  if (total <= 0) return {};
  const double floor = 1e-3 * total / double(e.sum2.size());
  std::vector<float> weights(e.sum2.size());
  for (std::size_t j = 0; j < weights.size(); ++j)
    weights[j] = static_cast<float>((std::max(e.sum2[j], floor)) / double(e.count));
  return weights;
}

ImportanceMatrix collect_importance(const std::filesystem::path& model_dir, std::span<const TokenId> tokens,
                                    int context, TokenId bos, std::int64_t max_chunks,
                                    const std::function<void(std::int64_t, std::int64_t)>& progress) {
  if (context < 2) throw Error("imatrix: the window must hold at least 2 tokens, got " + std::to_string(context));
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n < 2) throw Error("imatrix: the text has " + std::to_string(n) + " tokens, too few to read");
  const ModelConfig config = ModelConfig::load_folder(model_dir);
  const Checkpoint checkpoint = Checkpoint::open_folder(model_dir);
  Weights weights = bind_weights(checkpoint, config);
  for (TokenId id : tokens)
    if (id < 0 || id >= config.vocab_size)
      throw Error("imatrix: token id " + std::to_string(id) + " is out of range for the vocabulary");

  ImportanceMatrix result;
  // Matrices are told apart by their bytes: each GGUF slot has its own. With tied embeddings
  // the file's token_embd is also the output projection, so the output's inputs count there
  // (even when the checkpoint carries its own copy of the tied matrix).
  std::unordered_map<const std::byte*, ImportanceEntry*> by_data;
  for (const GgufSlot& s : gguf_slots(weights, config)) {
    if (!s.matrix) continue;
    ImportanceEntry& e = result.entries[s.name];
    e.sum2.assign(static_cast<std::size_t>(s.cols), 0.0);
    by_data[s.matrix->data] = &e;
    if (s.output_projection) by_data[weights.output.data] = &e;
  }
  // Bound as the file stores them (no load-time interleaving), so each product's bytes are a slot's.
  const Model model = ModelInternals::from_weights(config, std::move(weights), nullptr, checkpoint.describe(),
                                                   [&](const kernels::Matrix& w, const float* x, std::int64_t rows) {
    const auto it = by_data.find(w.data);
    if (it == by_data.end()) throw Error("imatrix: a matrix product on weights outside the model's GGUF tensors");
    ImportanceEntry& e = *it->second;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < w.cols; ++j) {
        const double v = x[r * w.cols + j];
        e.sum2[static_cast<std::size_t>(j)] += v * v;
      }
    e.count += rows;
  });

  const std::int64_t length = std::min<std::int64_t>(context, n);
  std::int64_t windows = n / length;
  if (max_chunks > 0) windows = std::min(windows, max_chunks);
  for (std::int64_t w = 0; w < windows; ++w) {
    std::vector<TokenId> window(tokens.begin() + w * length, tokens.begin() + (w + 1) * length);
    if (bos >= 0) window[0] = bos;
    State state = model.new_state();
    model.forward(window, state, Mode::Parallel, LogitsWanted::All);
    if (progress) progress(w + 1, windows);
  }
  result.chunks = windows;
  result.chunk_size = length;
  return result;
}

void write_importance(const std::filesystem::path& path, const ImportanceMatrix& imatrix) {
  GgufMetadata metadata;
  metadata.emplace_back("general.type", GgufValue::string("imatrix"));
  metadata.emplace_back("imatrix.datasets", GgufValue::string_array(imatrix.datasets));
  metadata.emplace_back("imatrix.chunk_count", GgufValue::scalar(GgufType::Uint32, imatrix.chunks));
  metadata.emplace_back("imatrix.chunk_size", GgufValue::scalar(GgufType::Uint32, imatrix.chunk_size));
  std::vector<GgufTensorInfo> infos;
  std::vector<std::vector<float>> values;
  for (const auto& [name, e] : imatrix.entries) {
    infos.push_back({name + kSum2Suffix, DType::F32, {1, static_cast<std::int64_t>(e.sum2.size())}});
    values.emplace_back(e.sum2.begin(), e.sum2.end());
    infos.push_back({name + kCountsSuffix, DType::F32, {1, 1}});
    values.push_back({static_cast<float>(e.count)});
  }
  write_gguf(path, metadata, infos, [&](std::size_t i) { return float_bytes(values[i]); });
}

ImportanceMatrix read_importance(const std::filesystem::path& path) {
  const std::string what = "importance matrix " + path.string();
  GgufMetadata metadata;
  const TensorFile file = open_gguf(path, &metadata);
  const GgufValue* type = gguf_find(metadata, "general.type");
  if (!type || type->strings.empty() || type->strings[0] != "imatrix")
    throw Error(what + ": not an importance matrix (general.type is not \"imatrix\")");
  ImportanceMatrix result;
  if (const GgufValue* d = gguf_find(metadata, "imatrix.datasets")) result.datasets = d->strings;
  result.chunks = u32_value(metadata, "imatrix.chunk_count");
  result.chunk_size = u32_value(metadata, "imatrix.chunk_size");
  const std::string sum2_suffix = kSum2Suffix, counts_suffix = kCountsSuffix;
  for (const TensorView& t : file.tensors()) {
    if (t.name.ends_with(counts_suffix)) {
      const std::string name = t.name.substr(0, t.name.size() - counts_suffix.size());
      if (!file.find(name + sum2_suffix)) throw Error(what + ": " + t.name + " has no " + name + sum2_suffix);
      continue;
    }
    if (!t.name.ends_with(sum2_suffix)) throw Error(what + ": unexpected tensor " + t.name);
    const std::string name = t.name.substr(0, t.name.size() - sum2_suffix.size());
    const TensorView* counts = file.find(name + counts_suffix);
    if (!counts) throw Error(what + ": " + t.name + " has no " + name + counts_suffix);
    const std::int64_t cols = entry_width(t, what);
    if (entry_width(*counts, what) != 1) throw Error(what + ": " + counts->name + " must hold one count");
    const std::vector<float> sum2 = read_floats(t, what);
    ImportanceEntry& e = result.entries[name];
    e.sum2.assign(sum2.begin(), sum2.begin() + cols);
    e.count = static_cast<std::int64_t>(read_floats(*counts, what)[0]);
  }
  return result;
}

}  // namespace supra
