// libFuzzer target: what `supra train --resume` and the data loader read back from disk
// (src/train/train_checkpoint.cpp, train_log.cpp, token_shard.cpp). The first byte picks:
//   0 trainer_state.json, then "\x1e", then train_log.csv of a checkpoint folder
//   1 optimizer.safetensors against a small parameter set
//   2 a token shard (header, then every token read)
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "supra/error.h"
#include "train/token_shard.h"
#include "train/train_checkpoint.h"

namespace fs = std::filesystem;
using namespace supra::train;

namespace {

const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "supra-fuzz-ckpt-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return fs::path(tmpl);
  }();
  return dir;
}

fs::path put(const std::string& name, std::string_view bytes) {
  const fs::path path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

const ParameterSet& small_params() {
  static const ParameterSet params = [] {
    ParameterSet p;
    p.add("model.tok_embeddings.weight", {4, 3});
    p.add("model.norm.weight", {3});
    return p;
  }();
  return params;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: {
        const std::size_t sep = input.find('\x1e');
        put("trainer_state.json", input.substr(0, sep));
        put("train_log.csv", sep == std::string_view::npos ? std::string_view() : input.substr(sep + 1));
        load_checkpoint_state(scratch_dir());
        break;
      }
      case 1:
        put("optimizer.safetensors", input);
        load_optimizer_state(scratch_dir(), small_params());
        break;
      default: {
        const TokenShard shard = TokenShard::open(put("shard.bin", input));
        std::vector<supra::TokenId> tokens(static_cast<std::size_t>(std::min<std::uint64_t>(shard.size(), 1 << 16)));
        shard.read(0, tokens);
        break;
      }
    }
  } catch (const supra::Error&) {
  }
  return 0;
}
