// How a model is laid out in GGUF: the one table that names every weight (llama.cpp's names
// where they exist, supra's own for the SUPRA feature maps), the architecture string, the
// hyper-parameter and tokenizer keys, and the rotary row permutation of llama.cpp's LLAMA
// arch. Both directions use it: bind_weights reads GGUF through it, quantize writes through it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/weights.h"
#include "supra/config.h"
#include "supra/tokenizer.h"

namespace supra {

// One GGUF tensor and the Weights field it fills: exactly one of matrix / vector is set.
struct GgufSlot {
  std::string name;                   // "blk.3.attn_q.weight"
  kernels::Matrix* matrix = nullptr;  // [rows, cols]
  std::vector<float>* vector = nullptr;  // [rows]
  std::int64_t rows = 0, cols = 0;
  int rope_heads = 0;  // > 0: q/k rows of this many heads, stored permuted (arch "llama" with rotary)
};

// "llama" for the softmax teacher (so llama.cpp runs it), "supra" for SUPRA models.
std::string gguf_architecture(const ModelConfig& config);

// The slots of every tensor the config needs, pointing into `w` (whose layers are resized to
// the config's). The output matrix is listed only when the embeddings are not tied; with
// tied embeddings readers use token_embd, as llama.cpp does.
std::vector<GgufSlot> gguf_slots(Weights& w, const ModelConfig& config);

// llama.cpp's convert_hf_to_gguf `permute`: within each head of `heads` × d rows, HF's half-split
// rotary pairs (i, i + d/2) become adjacent rows (2i, 2i + 1). stored_row(r) is where HF row
// r goes; hf_row(s) is its inverse.
std::int64_t rope_stored_row(std::int64_t r, std::int64_t rows, int heads);
std::int64_t rope_hf_row(std::int64_t s, std::int64_t rows, int heads);

// general.*, {arch}.* hyper-parameters, supra.* config fields, tokenizer.ggml.* (when a
// tokenizer is given), general.file_type from the weight type chosen for matrices.
GgufMetadata gguf_metadata(const ModelConfig& config, const std::string& name, DType matrix_type,
                           const Tokenizer* tokenizer);

}  // namespace supra
