// Tokenizer: a thin layer over SentencePiece that adds the HF LlamaTokenizer conventions
// (BOS/EOS insertion, special ids from the folder's JSON files, special tokens dropped
// on decode) and turns SentencePiece's status codes into supra::Error.
#include "supra/tokenizer.h"

#include <sentencepiece_processor.h>

#include <charconv>

#include "io/input_file.h"
#include "supra/error.h"
#include "tokenizer/special_tokens.h"

namespace supra {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kMaxTokenizerModelBytes = 64u << 20;
}  // namespace

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
  std::string source;  // the model file, for error messages
  TokenId bos = -1;
  std::vector<TokenId> eos;
  bool add_bos = true;
  bool add_eos = false;
  // An ordinary piece with no leading "▁" and its text: decoding it in front of other ids
  // makes SentencePiece treat them as mid-text, so their leading space is kept.
  TokenId lead_id = -1;
  std::string lead_text;

  void check_id(TokenId id) const {
    if (id < 0 || id >= sp.GetPieceSize())
      throw Error("token id " + std::to_string(id) + " is outside the vocabulary of " +
                  source + " (" + std::to_string(sp.GetPieceSize()) + " ids)");
  }

  std::string decode_ids(const std::vector<int>& ids) const {
    std::string text;
    auto status = sp.Decode(ids, &text);
    if (!status.ok()) throw Error(source + ": decoding failed: " + status.ToString());
    return text;
  }

  // HF decode(skip_special_tokens=True) drops <unk> as well as <s> and </s>, whereas
  // SentencePiece would print <unk> as " ⁇ "; dropping first makes the two agree.
  std::vector<int> printable(std::span<const TokenId> ids) const {
    std::vector<int> out;
    out.reserve(ids.size());
    for (TokenId id : ids) {
      check_id(id);
      if (!sp.IsControl(id) && !sp.IsUnknown(id)) out.push_back(id);
    }
    return out;
  }

  void load(const fs::path& file) {
    source = file.string();
    std::error_code ec;
    if (!fs::exists(file, ec)) throw Error(source + ": tokenizer model not found");
    // Read here, not by SentencePiece: a FIFO or a device is refused, and the size is capped
    // (real models are at most a few MB).
    const std::string bytes = read_small_file(file, kMaxTokenizerModelBytes);
    auto status = sp.LoadFromSerializedProto(bytes);
    if (!status.ok() || sp.GetPieceSize() == 0)
      throw Error(source + ": not a valid SentencePiece model (" + status.ToString() + ")");
    bos = sp.bos_id();
    if (sp.eos_id() >= 0) eos = {sp.eos_id()};
    find_lead_piece();
  }

  void check_bos() const {
    if (add_bos && bos < 0)
      throw Error(source + ": add_bos_token is set but the model defines no BOS token");
  }

  void find_lead_piece() {
    for (int id = 0; id < sp.GetPieceSize(); ++id) {
      if (sp.IsControl(id) || sp.IsUnknown(id) || sp.IsUnused(id) || sp.IsByte(id)) continue;
      if (sp.IdToPiece(id).starts_with("\xE2\x96\x81")) continue;  // "▁"
      lead_text = decode_ids({id});
      if (lead_text.empty()) continue;
      lead_id = id;
      return;
    }
    throw Error(source + ": the model has no ordinary piece to anchor streamed decoding");
  }
};

std::vector<Tokenizer::VocabEntry> Tokenizer::vocabulary() const {
  const auto& sp = impl_->sp;
  std::vector<VocabEntry> out(static_cast<std::size_t>(sp.GetPieceSize()));
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    VocabEntry& e = out[static_cast<std::size_t>(id)];
    e.piece = sp.IdToPiece(id);
    e.score = sp.GetScore(id);
    e.kind = sp.IsUnknown(id)       ? PieceKind::Unknown
             : sp.IsControl(id)     ? PieceKind::Control
             : sp.IsByte(id)        ? PieceKind::Byte
             : sp.IsUnused(id)      ? PieceKind::Unused
                                    : PieceKind::Normal;  // this SentencePiece cannot tell user-defined pieces apart
  }
  return out;
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load_folder(const fs::path& folder) {
  Tokenizer t;
  t.impl_->load(folder / "tokenizer.model");
  auto special = tokenizer_detail::read_special_tokens(folder, t.impl_->sp.GetPieceSize());
  if (special.bos) t.impl_->bos = *special.bos;
  if (!special.eos.empty()) t.impl_->eos = special.eos;
  t.impl_->add_bos = special.add_bos;
  t.impl_->add_eos = special.add_eos;
  t.impl_->check_bos();
  return t;
}

Tokenizer Tokenizer::load_model_file(const fs::path& model_file) {
  Tokenizer t;
  t.impl_->load(model_file);
  t.impl_->check_bos();
  return t;
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool with_bos) const {
  std::vector<int> pieces;
  auto status = impl_->sp.Encode(text, &pieces);
  if (!status.ok()) throw Error(impl_->source + ": encoding failed: " + status.ToString());
  std::vector<TokenId> ids;
  ids.reserve(pieces.size() + 2);
  if (with_bos && impl_->add_bos) ids.push_back(impl_->bos);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (with_bos && impl_->add_eos && !impl_->eos.empty()) ids.push_back(impl_->eos.front());
  return ids;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids) const {
  return impl_->decode_ids(impl_->printable(ids));
}

std::string Tokenizer::decode_continuation(std::span<const TokenId> ids) const {
  std::vector<int> with_lead = impl_->printable(ids);
  with_lead.insert(with_lead.begin(), impl_->lead_id);
  return impl_->decode_ids(with_lead).substr(impl_->lead_text.size());
}

int Tokenizer::byte_value(TokenId id) const {
  impl_->check_id(id);
  if (!impl_->sp.IsByte(id)) return -1;
  const std::string& p = impl_->sp.IdToPiece(id);  // "<0xAB>"
  int value = -1;
  if (p.size() != 6 || std::from_chars(p.data() + 3, p.data() + 5, value, 16).ec != std::errc{})
    throw Error(impl_->source + ": byte piece " + std::to_string(id) + " is not <0xHH>");
  return value;
}

int Tokenizer::vocab_size() const { return impl_->sp.GetPieceSize(); }
TokenId Tokenizer::bos_id() const { return impl_->bos; }
TokenId Tokenizer::eos_id() const { return impl_->eos.empty() ? -1 : impl_->eos.front(); }
const std::vector<TokenId>& Tokenizer::eos_ids() const { return impl_->eos; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }

std::string Tokenizer::piece(TokenId id) const {
  impl_->check_id(id);
  return impl_->sp.IdToPiece(id);
}

}  // namespace supra
