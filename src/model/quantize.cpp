// Quantizing a model folder into GGUF, one tensor at a time.
#include "model/quantize.h"

#include <unistd.h>

#include <cstring>
#include <memory>
#include <random>

#include "io/mapped_file.h"
#include "kernels/quant.h"
#include "supra/checkpoint.h"
#include "supra/error.h"

namespace supra {
namespace fs = std::filesystem;

DType storage_type(const GgufSlot& slot, DType matrix_type) {
  if (slot.vector) return DType::F32;
  if (is_block_quantized(matrix_type) && slot.cols % kQuantBlock != 0) return DType::BF16;
  return matrix_type;
}

void write_model_gguf(const fs::path& model_dir, const fs::path& gguf_path, DType matrix_type) {
  if (matrix_type != DType::F32 && matrix_type != DType::BF16 && matrix_type != DType::F16 &&
      !is_block_quantized(matrix_type))
    throw Error("quantize: cannot store weights as " + std::string(dtype_name(matrix_type)));
  const ModelConfig config = ModelConfig::load_folder(model_dir);
  const Checkpoint checkpoint = Checkpoint::open_folder(model_dir);
  Weights w = bind_weights(checkpoint, config);  // views into the mapping: nothing is read yet
  const std::vector<GgufSlot> slots = gguf_slots(w, config);
  std::unique_ptr<Tokenizer> tokenizer;
  if (fs::exists(model_dir / "tokenizer.model"))
    tokenizer = std::make_unique<Tokenizer>(Tokenizer::load_folder(model_dir));
  const GgufMetadata metadata =
      gguf_metadata(config, model_dir.filename().string(), matrix_type, tokenizer.get());

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
    std::vector<float> row(static_cast<std::size_t>(m.cols));
    for (std::int64_t r = 0; r < m.rows; ++r) {
      kernels::dequantize_row(m.dtype, m.data + static_cast<std::size_t>(r) * m.row_bytes(), m.cols, row.data());
      const std::int64_t dst = s.rope_heads > 0 ? rope_stored_row(r, m.rows, s.rope_heads) : r;
      kernels::quantize_row(type, row.data(), m.cols, out.data() + static_cast<std::size_t>(dst) * out_row);
    }
    release_pages(m.data, m.row_bytes() * static_cast<std::size_t>(m.rows));
    return out;
  });
}

void quantize_model(const fs::path& model_dir, const fs::path& out_dir, DType matrix_type) {
  std::error_code ec;
  if (fs::exists(out_dir, ec)) throw Error("quantize: " + out_dir.string() + " already exists");
  const fs::path parent = out_dir.has_parent_path() ? out_dir.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) throw Error("quantize: the folder " + parent.string() + " does not exist");
  const fs::path tmp = parent / (out_dir.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                                 std::to_string(std::random_device{}()));
  try {
    fs::create_directory(tmp);
    write_model_gguf(model_dir, tmp / "model.gguf", matrix_type);
    // config.json describes the architecture to supra; the rest serve tokenizer and generation.
    for (const char* name : {"config.json", "generation_config.json", "tokenizer.model", "tokenizer_config.json",
                             "special_tokens_map.json", "tokenizer.json"})
      if (fs::exists(model_dir / name)) fs::copy_file(model_dir / name, tmp / name);
    fs::rename(tmp, out_dir);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw Error("quantize: writing " + out_dir.string() + " failed: " + e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace supra
