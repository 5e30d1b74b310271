#include "supra/state_file.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace supra {
namespace {

static_assert(std::endian::native == std::endian::little, "the state format is little-endian");

constexpr char kMagic[8] = {'S', 'U', 'P', 'R', 'A', 'S', 'T', 'A'};
// Version 2 added the last logits (what the state predicts next) after the floats; version 1
// files (without them) are still read.
constexpr std::uint32_t kVersion = 2;
constexpr std::size_t kHeaderBytes = 40;
constexpr std::size_t kLayerEntryBytes = 24;

InvalidStateFile invalid(const std::string& why) { return InvalidStateFile("invalid state file: " + why); }

template <typename T>
void put(std::string& out, T value) {
  char b[sizeof(T)];
  std::memcpy(b, &value, sizeof(T));
  out.append(b, sizeof(T));
}

void put_floats(std::string& out, const std::vector<float>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

template <typename T>
T get(std::string_view bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

std::vector<float> get_floats(std::string_view bytes, std::size_t& offset, std::size_t count) {
  std::vector<float> v(count);
  // An empty vector's data() may be null, and memcpy must not be given null even for 0 bytes
  // (a softmax model's state before any token has no keys).
  if (count > 0) std::memcpy(v.data(), bytes.data() + offset, count * sizeof(float));
  offset += count * sizeof(float);
  return v;
}

// A NaN or an infinity in a state would silently poison every token generated from it, and no
// model's forward pass writes one, so a file holding one is refused even with a valid checksum.
void require_finite(const std::vector<float>& v, std::uint32_t layer, const char* part) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw invalid("layer " + std::to_string(layer) + " " + part + " holds a non-finite value (" +
                    (std::isnan(v[i]) ? "nan" : "inf") + ") at element " + std::to_string(i));
}

std::uint64_t model_fingerprint(const ModelConfig& config) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : config.summary()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::uint32_t crc32(std::string_view bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t attention_code(AttentionKind kind) { return kind == AttentionKind::Linear ? 0 : 1; }

}  // namespace

StateCodec::StateCodec(const Model& model) : StateCodec(model, model.config().vocab_size) {}

StateCodec::StateCodec(const Model& model, int vocab_size)
    : attention_(model.config().attention),
      logits_(static_cast<std::size_t>(model.config().vocab_size)),
      fingerprint_(model_fingerprint(model.config())),
      vocab_size_(vocab_size) {
  State s = model.new_state();
  layers_ = s.layers.size();
  if (!s.layers.empty()) matrix_ = s.layers[0].matrix.size();
  if (attention_ == AttentionKind::Softmax) {  // one token shows the widths of a KV cache row
    const TokenId first = 0;
    model.forward(std::span(&first, 1), s, Mode::Recurrent, LogitsWanted::None);
    key_width_ = s.layers[0].keys.size();
    value_width_ = s.layers[0].values.size();
  }
}

std::string StateCodec::encode(const SavedState& s) const {
  std::string out(kMagic, sizeof(kMagic));
  put<std::uint32_t>(out, kVersion);
  put<std::uint32_t>(out, attention_code(attention_));
  put<std::uint64_t>(out, fingerprint_);
  put<std::int64_t>(out, s.state.position);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(s.state.layers.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(s.tokens.size()));
  for (const auto& l : s.state.layers) {
    put<std::uint64_t>(out, l.matrix.size());
    put<std::uint64_t>(out, l.keys.size());
    put<std::uint64_t>(out, l.values.size());
  }
  for (TokenId t : s.tokens) put<std::int32_t>(out, t);
  for (const auto& l : s.state.layers) {
    put_floats(out, l.matrix);
    put_floats(out, l.keys);
    put_floats(out, l.values);
  }
  put<std::uint32_t>(out, static_cast<std::uint32_t>(s.logits.size()));
  put_floats(out, s.logits);
  put<std::uint32_t>(out, crc32(out));
  return out;
}

bool StateCodec::from_another_model(std::string_view bytes) const {
  if (bytes.size() < kHeaderBytes + 4 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return false;
  const std::uint32_t version = get<std::uint32_t>(bytes, 8);
  if (version != 1 && version != kVersion) return false;
  if (crc32(bytes.substr(0, bytes.size() - 4)) != get<std::uint32_t>(bytes, bytes.size() - 4)) return false;
  return get<std::uint32_t>(bytes, 12) != attention_code(attention_) || get<std::uint64_t>(bytes, 16) != fingerprint_;
}

SavedState StateCodec::decode(std::string_view bytes) const {
  if (bytes.size() < kHeaderBytes + 4) throw invalid("shorter than the header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) throw invalid("bad magic (not a supra state)");
  const std::uint32_t version = get<std::uint32_t>(bytes, 8);
  if (version != 1 && version != kVersion) throw invalid("unsupported version " + std::to_string(version));
  // The checksum comes before any size is trusted: a flipped bit anywhere is reported as such.
  const std::string_view covered = bytes.substr(0, bytes.size() - 4);
  if (crc32(covered) != get<std::uint32_t>(bytes, bytes.size() - 4)) throw invalid("checksum mismatch");
  const std::uint32_t kind = get<std::uint32_t>(bytes, 12);
  if (kind != attention_code(attention_)) throw invalid("attention kind differs from the model");
  if (get<std::uint64_t>(bytes, 16) != fingerprint_) throw invalid("model fingerprint differs (exported from another model)");
  const auto position = get<std::int64_t>(bytes, 24);
  const std::uint32_t layers = get<std::uint32_t>(bytes, 32);
  const std::uint32_t n_tokens = get<std::uint32_t>(bytes, 36);
  if (layers != layers_) throw invalid("layer count " + std::to_string(layers) + ", model has " +
                                            std::to_string(layers_));
  // Every size is bounded by the body itself, so the arithmetic below cannot overflow.
  if (position < 0 || static_cast<std::uint64_t>(position) != n_tokens) throw invalid("position differs from token count");
  if (n_tokens > bytes.size()) throw invalid("token count exceeds the body");
  const std::size_t table_end = kHeaderBytes + layers * kLayerEntryBytes;
  if (table_end + n_tokens * sizeof(TokenId) + 4 > bytes.size()) throw invalid("body shorter than its layer table");

  std::size_t floats = 0;
  for (std::uint32_t i = 0; i < layers; ++i) {
    const std::size_t at = kHeaderBytes + i * kLayerEntryBytes;
    const auto m = get<std::uint64_t>(bytes, at), k = get<std::uint64_t>(bytes, at + 8),
               v = get<std::uint64_t>(bytes, at + 16);
    const std::uint64_t p = n_tokens;
    const bool ok = attention_ == AttentionKind::Linear ? m == matrix_ && k == 0 && v == 0
                                                        : m == 0 && k == p * key_width_ && v == p * value_width_;
    if (!ok) throw invalid("layer " + std::to_string(i) + " sizes do not match the model");
    floats += m + k + v;
  }
  // Version 2: a u32 logit count (0, or one per vocabulary entry), then the logits.
  const std::size_t logits_at = table_end + n_tokens * sizeof(TokenId) + floats * sizeof(float);
  std::size_t n_logits = 0;
  if (version >= 2) {
    if (logits_at + 4 + 4 > bytes.size()) throw invalid("body shorter than its layer table and logit count");
    n_logits = get<std::uint32_t>(bytes, logits_at);
    if (n_logits != 0 && n_logits != logits_)
      throw invalid("logit count " + std::to_string(n_logits) + ", the model has " + std::to_string(logits_));
  }
  const std::size_t expected = logits_at + (version >= 2 ? 4 + n_logits * sizeof(float) : 0) + 4;
  if (expected != bytes.size())
    throw invalid("body is " + std::to_string(bytes.size()) + " bytes, header describes " + std::to_string(expected));

  SavedState s;
  std::size_t offset = table_end;
  s.tokens.resize(n_tokens);
  for (auto& t : s.tokens) {
    t = get<std::int32_t>(bytes, offset);
    offset += sizeof(TokenId);
    if (t < 0 || t >= vocab_size_) throw invalid("token id " + std::to_string(t) + " out of range");
  }
  s.state.position = position;
  s.state.layers.resize(layers);
  for (std::uint32_t i = 0; i < layers; ++i) {
    const std::size_t at = kHeaderBytes + i * kLayerEntryBytes;
    auto& l = s.state.layers[i];
    l.matrix = get_floats(bytes, offset, get<std::uint64_t>(bytes, at));
    l.keys = get_floats(bytes, offset, get<std::uint64_t>(bytes, at + 8));
    l.values = get_floats(bytes, offset, get<std::uint64_t>(bytes, at + 16));
    require_finite(l.matrix, i, "matrix");
    require_finite(l.keys, i, "keys");
    require_finite(l.values, i, "values");
  }
  if (version >= 2) {
    offset += 4;
    s.logits = get_floats(bytes, offset, n_logits);
    for (float x : s.logits)
      if (!std::isfinite(x)) throw invalid("the logits hold a non-finite value");
  }
  return s;
}

void StateCodec::save(const std::filesystem::path& path, const SavedState& s) const {
  const std::string bytes = encode(s);
  write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

SavedState StateCodec::load(const std::filesystem::path& path) const {
  const MappedFile file(path);  // its errors name the path
  const auto mapped = file.bytes();
  try {
    return decode(std::string_view(reinterpret_cast<const char*>(mapped.data()), mapped.size()));
  } catch (const InvalidStateFile& e) {
    throw InvalidStateFile(path.string() + ": " + e.what());
  }
}

}  // namespace supra
