// The GGUF writing behind quantize_model and write_synthetic_model (supra/quantize.h): which
// type each tensor is stored in, and the streaming writer.
#pragma once
#include <filesystem>

#include "model/gguf_layout.h"
#include "model/weights.h"
#include "supra/quantize.h"

namespace supra {

// The type a tensor is stored in when matrices are asked to be `matrix_type`: vectors (norm
// gains, biases) stay F32; a matrix whose rows are not whole 32-element blocks falls back to
// BF16 when Q8_0/Q4_0 is asked; the output projection is output_projection_type.
DType storage_type(const GgufSlot& slot, DType matrix_type);

// Writes `w` as GGUF with matrices stored as `matrix_type` (see storage_type). Streams tensor
// by tensor: each output tensor is built row by row from the mapped source and
// the source pages are released after it, so the resident size stays near the largest tensor.
// With `importance`, Q4_0 block scales are fitted with each tensor's column weights
// (ImportanceMatrix::column_weights; tensors without an entry are fitted unweighted).
void write_weights_gguf(Weights& w, const ModelConfig& config, const GgufMetadata& metadata, DType matrix_type,
                        const std::filesystem::path& gguf_path, const ImportanceMatrix* importance = nullptr);

// The GGUF file alone (what quantize_model writes as model.gguf).
void write_model_gguf(const std::filesystem::path& model_dir, const std::filesystem::path& gguf_path, DType matrix_type,
                      const std::filesystem::path& imatrix_path = {});

}  // namespace supra
