// Quantizing a model folder into GGUF, one tensor at a time.
#include "convert/quantize.h"

#include <cstring>
#include <memory>

#include "io/mapped_file.h"
#include "io/model_folder.h"
#include "kernels/quant.h"
#include "supra/quantize.h"
#include "convert/synthetic.h"
#include "supra/checkpoint.h"
#include "supra/error.h"

namespace supra {
namespace fs = std::filesystem;

namespace {

// One stored row of `m` in `type`: copied when the types agree, else decoded to f32 and encoded.
void convert_row(const kernels::Matrix& m, std::int64_t r, DType type, const std::vector<float>& weights,
                 std::vector<float>& scratch, std::byte* out) {
  const std::byte* src = m.data + static_cast<std::size_t>(r) * m.row_bytes();
  if (m.dtype == type) {
    std::memcpy(out, src, m.row_bytes());
    return;
  }
  scratch.resize(static_cast<std::size_t>(m.cols));
  kernels::dequantize_row(m.dtype, src, m.cols, scratch.data());
  kernels::quantize_row(type, scratch.data(), m.cols, out, weights.empty() ? nullptr : weights.data());
}

}  // namespace

DType storage_type(const GgufSlot& slot, DType matrix_type) {
  if (slot.vector) return DType::F32;
  if (is_block_quantized(matrix_type) && slot.cols % kQuantBlock != 0) return DType::BF16;
  return slot.output_projection ? output_projection_type(matrix_type) : matrix_type;
}

void write_weights_gguf(Weights& w, const ModelConfig& config, const GgufMetadata& metadata, DType matrix_type,
                        const fs::path& gguf_path, const ImportanceMatrix* importance) {
  if (matrix_type != DType::F32 && matrix_type != DType::BF16 && matrix_type != DType::F16 &&
      !is_block_quantized(matrix_type))
    throw Error("quantize: cannot store weights as " + std::string(dtype_name(matrix_type)));
  const std::vector<GgufSlot> slots = gguf_slots(w, config);
  std::vector<GgufTensorInfo> infos;
  for (const GgufSlot& s : slots) {
    GgufTensorInfo info{s.name, storage_type(s, matrix_type), {s.rows, s.cols}};
    if (s.vector) info.shape = {s.rows};
    infos.push_back(std::move(info));
  }
  write_gguf(gguf_path, metadata, infos, [&](std::size_t i) {
    const GgufSlot& s = slots[i];
    const DType type = infos[i].dtype;
    if (s.vector) {
      std::vector<std::byte> out(s.vector->size() * sizeof(float));
      std::memcpy(out.data(), s.vector->data(), out.size());
      return out;
    }
    const kernels::Matrix& m = *s.matrix;
    const std::size_t out_row = dtype_row_bytes(type, m.cols);
    std::vector<std::byte> out(out_row * static_cast<std::size_t>(m.rows));
    // Only Q4_0 fits its scales to an importance matrix.
    const std::vector<float> weights =
        importance && type == DType::Q4_0 ? importance->column_weights(s.name, m.cols) : std::vector<float>{};
    std::vector<float> scratch;
    for (std::int64_t r = 0; r < m.rows; ++r) {
      const std::int64_t dst = s.rope_heads > 0 ? rope_stored_row(r, m.rows, s.rope_heads) : r;
      convert_row(m, r, type, weights, scratch, out.data() + static_cast<std::size_t>(dst) * out_row);
    }
    // A mapped source's pages are no longer needed: drop them so the resident size stays
    // near one tensor (31 GB of fp32 weights never sit in memory at once).
    release_pages(m.data, m.row_bytes() * static_cast<std::size_t>(m.rows));
    return out;
  });
}

void write_model_gguf(const fs::path& model_dir, const fs::path& gguf_path, DType matrix_type,
                      const fs::path& imatrix_path) {
  const ModelConfig config = ModelConfig::load_folder(model_dir);
  const Checkpoint checkpoint = Checkpoint::open_folder(model_dir);
  Weights w = bind_weights(checkpoint, config);  // views into the mapping: nothing is read yet
  std::unique_ptr<GgufVocabulary> vocabulary;
  if (fs::exists(model_dir / "tokenizer.model"))
    vocabulary = std::make_unique<GgufVocabulary>(gguf_vocabulary(Tokenizer::load_folder(model_dir)));
  GgufMetadata metadata = gguf_metadata(config, model_dir.filename().string(), matrix_type, vocabulary.get());
  std::unique_ptr<ImportanceMatrix> importance;
  if (!imatrix_path.empty()) {
    importance = std::make_unique<ImportanceMatrix>(read_importance(imatrix_path));
    // Provenance under llama.cpp's keys, so `llama-gguf` and model cards show it the same way.
    metadata.emplace_back("quantize.imatrix.file", GgufValue::string(imatrix_path.string()));
    if (!importance->datasets.empty())
      metadata.emplace_back("quantize.imatrix.dataset", GgufValue::string(importance->datasets.front()));
    metadata.emplace_back("quantize.imatrix.entries_count",
                          GgufValue::scalar(GgufType::Int32, static_cast<std::int64_t>(importance->entries.size())));
    metadata.emplace_back("quantize.imatrix.chunks_count", GgufValue::scalar(GgufType::Int32, importance->chunks));
  }
  write_weights_gguf(w, config, metadata, matrix_type, gguf_path, importance.get());
}

void quantize_model(const fs::path& model_dir, const fs::path& out_dir, DType matrix_type,
                    const fs::path& imatrix_path) {
  write_folder_atomically(out_dir, [&](const fs::path& dir) {
    write_model_gguf(model_dir, dir / "model.gguf", matrix_type, imatrix_path);
    // config.json describes the architecture to supra; the rest serve tokenizer and generation.
    copy_file_synced(model_dir / "config.json", dir / "config.json");
    copy_tokenizer_files(model_dir, dir);
  });
}

void write_synthetic_model(const std::string& shape, const fs::path& out_dir, DType matrix_type) {
  const ModelConfig config = synthetic_config(shape);
  // Generated directly in the stored type, so rows are copied, not re-encoded, and a 7B shape
  // needs only its stored size in memory.
  SyntheticModel m = make_synthetic(config, matrix_type);
  const GgufVocabulary vocabulary = synthetic_vocabulary(config.vocab_size);
  const GgufMetadata metadata = gguf_metadata(config, shape, matrix_type, &vocabulary);
  write_folder_atomically(out_dir, [&](const fs::path& dir) {
    write_weights_gguf(m.weights, config, metadata, matrix_type, dir / "model.gguf");
    write_text_file(dir / "config.json", synthetic_config_json(shape));
  });
}

}  // namespace supra
