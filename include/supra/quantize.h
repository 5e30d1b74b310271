// Offline conversion (the supra_convert library; `supra quantize` and `supra imatrix`): a model
// folder to GGUF in another weight type, synthetic models of known shapes, and the importance
// matrices that fit 4-bit scales.
//
// Importance matrix ("imatrix", as llama.cpp calls it): per weight matrix, the sum over the
// calibration tokens of each input column's squared activation. The error a quantized weight
// adds to one output is Σ_j (w_j − ŵ_j)·x_j, whose expected square (columns taken as
// uncorrelated) is Σ_j (w_j − ŵ_j)²·E[x_j²]: fitting block scales with E[x_j²] as weights
// spends the few levels of a 4-bit block where the inputs are large.
//
// Stored as GGUF in llama.cpp's imatrix layout, so files move between the two tools:
//   general.type "imatrix", imatrix.datasets [str], imatrix.chunk_count u32, imatrix.chunk_size u32;
//   per matrix "<tensor>.in_sum2" F32 [1, cols] (Σx²) and "<tensor>.counts" F32 [1, 1] (rows seen),
//   tensors named as in supra's GGUF files ("blk.0.attn_q.weight").
#pragma once
#include <cstdint>
#include <string_view>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "supra/model.h"
#include "supra/tensor.h"
#include "supra/token.h"

namespace supra {

struct ImportanceEntry {
  std::vector<double> sum2;  // [cols] Σ x_j² over every input row seen
  std::int64_t count = 0;    // input rows seen
};

struct ImportanceMatrix {
  std::map<std::string, ImportanceEntry> entries;  // by GGUF tensor name
  std::vector<std::string> datasets;               // calibration files, for provenance
  std::int64_t chunks = 0;                         // windows read
  std::int64_t chunk_size = 0;                     // tokens per window

  // E[x_j²] of the inputs of `tensor` (the weights of a fitted quantization; columns below a
  // thousandth of the average are raised to it), or empty when the tensor has no entry or saw
  // only zeros. Throws supra::Error when the entry's width is not `cols`.
  std::vector<float> column_weights(const std::string& tensor, std::int64_t cols) const;
};

// Runs the model folder's weights over `tokens` in windows of `context` tokens, each from a
// fresh state with its first token replaced by `bos` (when >= 0), as llama.cpp's imatrix does,
// and sums the squared inputs of every matrix product (the output projection over all
// positions). A text shorter than one window is one window. `max_chunks` > 0 caps the windows.
// `progress(done, total)` is called after each window. Throws supra::Error for < 2 tokens.
ImportanceMatrix collect_importance(const std::filesystem::path& model_dir, std::span<const TokenId> tokens,
                                    int context, TokenId bos, std::int64_t max_chunks,
                                    const std::function<void(std::int64_t, std::int64_t)>& progress = {});

// Atomic write (temporary file, then rename).
void write_importance(const std::filesystem::path& path, const ImportanceMatrix& imatrix);
// Throws supra::Error for a file that is not GGUF, not an imatrix, or whose entries are
// inconsistent (an in_sum2 without counts, wrong shapes or types, negative or non-finite values).
ImportanceMatrix read_importance(const std::filesystem::path& path);

// Writes into a temporary folder beside `out_dir` and renames it: `out_dir` appears complete
// or not at all. Throws supra::Error when out_dir exists. A non-empty `imatrix_path` names an
// importance matrix (supra imatrix or llama.cpp's llama-imatrix, GGUF) to fit Q4_0 scales with.
// Matrices are stored as `matrix_type` (F32, BF16, F16, Q8_0 or Q4_0); norm gains and biases
// stay F32, a matrix whose rows are not whole 32-element blocks falls back to BF16 when Q8_0 or
// Q4_0 is asked, and the output projection is stored as output_projection_type.
void quantize_model(const std::filesystem::path& model_dir, const std::filesystem::path& out_dir, DType matrix_type,
                    const std::filesystem::path& imatrix_path = {});

// Known shapes of synthetic models: "mistral-supra-7b" (spec §7.1), "mistral-7b" (its softmax
// teacher), "supra-1b" / "llama-1b" (the TinyLlama-1.1B shape, SUPRA / softmax), "tiny" (tests).
std::vector<std::string> synthetic_names();

// A model folder (config.json + model.gguf) of a synthetic shape with random weights generated
// in `matrix_type` and a synthetic vocabulary: the same model for supra and llama.cpp when no
// real weights of that size are at hand. Atomic like quantize_model.
void write_synthetic_model(const std::string& shape, const std::filesystem::path& out_dir, DType matrix_type);

// A synthetic model generated in memory, as it would load from write_synthetic_model's folder
// (speed depends on the shapes and bytes, not on the values: `supra bench --synthetic`).
// Deterministic for a seed. Throws supra::Error for an unknown shape or weight type.
Model make_synthetic_model(std::string_view shape, DType matrix_type, std::uint64_t seed = 1);

}  // namespace supra
