#include "state_file.h"

#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "supra/error.h"

namespace supra::cli {

StateFile::StateFile(const Model& model, int vocab_size)
    : fingerprint_(serve::model_fingerprint(model.config())),
      shape_(serve::measure_state_shape(model)),
      vocab_size_(vocab_size) {}

serve::StoredState StateFile::read(const std::filesystem::path& path, const std::string& what) const {
  try {
    const MappedFile file(path);
    const auto bytes = file.bytes();
    return serve::import_state(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                               fingerprint_, shape_, vocab_size_);
  } catch (const std::exception& e) {
    throw Error(what + " " + path.string() + ": " + e.what());
  }
}

void StateFile::write(const std::filesystem::path& path, const State& state, const std::vector<TokenId>& tokens) const {
  const std::string bytes = serve::export_state(serve::StoredState{state, tokens, {}}, fingerprint_, shape_);
  write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace supra::cli
