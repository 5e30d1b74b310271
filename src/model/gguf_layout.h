// How a model is laid out in GGUF: the tensors of the tensor table under its GGUF naming
// (llama.cpp's names where they exist, supra's own for the SUPRA feature maps) as slots of a
// Weights, the architecture string, the hyper-parameter and tokenizer keys, and the rotary row
// permutation of llama.cpp's LLAMA arch. quantize and imatrix write and read through it.
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
  bool output_projection = false;  // the matrix that makes the logits (token_embd when tied)
};

// "llama" for the softmax teacher (so llama.cpp runs it), "supra" for SUPRA models.
std::string gguf_architecture(const ModelConfig& config);

// The slots of every tensor the config needs, pointing into `w` (whose layers are resized to
// the config's). The output matrix is listed only when the embeddings are not tied; with
// tied embeddings readers use token_embd, as llama.cpp does.
std::vector<GgufSlot> gguf_slots(Weights& w, const ModelConfig& config);

// The output projection's type in a model of `matrix_type` matrices: Q8_0 for Q4_0, else the
// same. As in llama.cpp's Q4_0 mix (which keeps it at 6 bits), its rounding goes straight into
// every logit, and it is a small part of the bytes read per token (4% at the 7B shape).
DType output_projection_type(DType matrix_type);

// llama.cpp's convert_hf_to_gguf `permute`: within each head of `heads` × d rows, HF's half-split
// rotary pairs (i, i + d/2) become adjacent rows (2i, 2i + 1). stored_row(r) is where HF row
// r goes; hf_row(s) is its inverse.
std::int64_t rope_stored_row(std::int64_t r, std::int64_t rows, int heads);
std::int64_t rope_hf_row(std::int64_t s, std::int64_t rows, int heads);

// What tokenizer.ggml.* holds: llama.cpp's "llama" (SentencePiece) vocabulary.
struct GgufVocabulary {
  std::vector<Tokenizer::VocabEntry> entries;  // in id order
  std::int64_t bos_id = -1, eos_id = -1;       // -1: none
  bool add_bos = true, add_eos = false;
};
GgufVocabulary gguf_vocabulary(const Tokenizer& tokenizer);
// A vocabulary of n ≥ 3 pieces for a model that has no tokenizer (synthetic benchmark
// models), so that llama.cpp can load the file: <unk>, <s>, </s>, the byte pieces
// <0x00>..<0xFF> (as many as fit), then normal pieces "▁w<id>" with decreasing scores.
GgufVocabulary synthetic_vocabulary(std::int64_t n);

// general.*, {arch}.* hyper-parameters, supra.* config fields, tokenizer.ggml.* (when a
// vocabulary is given), general.file_type from the weight type chosen for matrices.
GgufMetadata gguf_metadata(const ModelConfig& config, const std::string& name, DType matrix_type,
                           const GgufVocabulary* vocabulary);

}  // namespace supra
