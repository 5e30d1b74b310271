// The GGUF name table and keys (docs/QUANTIZATION.md lists them).
#include "model/gguf_layout.h"

#include <cstdio>

#include "supra/error.h"

namespace supra {

std::string gguf_architecture(const ModelConfig& c) {
  return c.attention == AttentionKind::Softmax ? "llama" : "supra";
}

std::vector<GgufSlot> gguf_slots(Weights& w, const ModelConfig& c) {
  w.layers.resize(static_cast<std::size_t>(c.n_layers));
  std::vector<GgufSlot> slots;
  for (const TensorEntry& e : tensor_table(c, TensorNaming::Gguf)) {
    if (e.optional) continue;  // a tied head is stored once, as token_embd (llama.cpp does the same)
    const TensorRole role = e.parts.front().role;
    GgufSlot s{e.name, nullptr, nullptr, e.rows, e.is_vector() ? 1 : e.cols, e.rope_heads, e.is_output_projection()};
    if (e.is_vector())
      s.vector = &vector_field(w, e.layer, role);
    else
      s.matrix = &matrix_field(w, e.layer, role);
    slots.push_back(std::move(s));
  }
  return slots;
}

DType output_projection_type(DType matrix_type) {
  return matrix_type == DType::Q4_0 ? DType::Q8_0 : matrix_type;
}

std::int64_t rope_stored_row(std::int64_t r, std::int64_t rows, int heads) {
  const std::int64_t d = rows / heads, half = d / 2;
  const std::int64_t h = r / d, i = (r % d) / half, j = r % half;
  return h * d + 2 * j + i;
}

std::int64_t rope_hf_row(std::int64_t s, std::int64_t rows, int heads) {
  const std::int64_t d = rows / heads, half = d / 2;
  const std::int64_t h = s / d, j = (s % d) / 2, i = s % 2;
  return h * d + i * half + j;
}

namespace {

// llama.cpp's llama_ftype for files whose matrices are all of one type.
std::int64_t file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q8_0: return 7;
    case DType::BF16: return 32;
    default: return 0;
  }
}

}  // namespace

GgufVocabulary gguf_vocabulary(const Tokenizer& tok) {
  return {tok.vocabulary(), tok.bos_id(), tok.eos_id(), tok.add_bos(), tok.add_eos()};
}

GgufVocabulary synthetic_vocabulary(std::int64_t n) {
  if (n < 3) throw Error("a synthetic vocabulary needs at least 3 pieces, got " + std::to_string(n));
  using Kind = Tokenizer::PieceKind;
  GgufVocabulary v;
  v.entries = {{"<unk>", 0.0f, Kind::Unknown}, {"<s>", 0.0f, Kind::Control}, {"</s>", 0.0f, Kind::Control}};
  char hex[8];
  for (int b = 0; b < 256 && b + 3 < n; ++b) {
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    v.entries.push_back({hex, 0.0f, Kind::Byte});
  }
  for (auto id = static_cast<std::int64_t>(v.entries.size()); id < n; ++id)
    v.entries.push_back({"\u2581w" + std::to_string(id), -static_cast<float>(id), Kind::Normal});
  v.bos_id = 1;
  v.eos_id = 2;
  return v;
}

GgufMetadata gguf_metadata(const ModelConfig& c, const std::string& name, DType matrix_type, const GgufVocabulary* vocab) {
  const std::string arch = gguf_architecture(c);
  const bool linear = c.attention == AttentionKind::Linear;
  const std::int64_t qk = linear ? c.head_dim : c.qk_dim;
  const std::int64_t vd = c.format == ConfigFormat::HuggingFace ? c.head_dim : c.v_dim;
  auto u32 = [](std::int64_t v) { return GgufValue::scalar(GgufType::Uint32, v); };
  auto boolean = [](bool v) { return GgufValue::scalar(GgufType::Bool, v ? 1 : 0); };
  GgufMetadata m = {
      {"general.architecture", GgufValue::string(arch)},
      {"general.name", GgufValue::string(name)},
      {"general.file_type", u32(file_type(matrix_type))},
      {"general.quantization_version", u32(2)},
      {"general.alignment", u32(32)},
      {arch + ".vocab_size", u32(c.vocab_size)},
      {arch + ".context_length", u32(c.seq_len)},
      {arch + ".embedding_length", u32(c.dim)},
      {arch + ".block_count", u32(c.n_layers)},
      {arch + ".feed_forward_length", u32(c.ffn_dim)},
      {arch + ".attention.head_count", u32(c.n_heads)},
      {arch + ".attention.head_count_kv", u32(c.n_kv_heads)},
      {arch + ".attention.key_length", u32(qk)},
      {arch + ".attention.value_length", u32(vd)},
      {arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(c.norm_eps)},
      {arch + ".rope.freq_base", GgufValue::f32(static_cast<float>(c.rope_base))},
      {arch + ".rope.dimension_count", u32(c.rotary ? qk : 0)},
  };
  // Every config field, so a reader needs nothing but this file to rebuild the config.
  m.emplace_back("supra.config_format", GgufValue::string(c.format == ConfigFormat::OpenLM ? "openlm" : "hf"));
  m.emplace_back("supra.model_type", GgufValue::string(c.model_type));
  m.emplace_back("supra.attention", GgufValue::string(linear ? "linear" : "softmax"));
  m.emplace_back("supra.head_dim", u32(c.head_dim));
  m.emplace_back("supra.qk_head_dim", u32(c.qk_dim));
  m.emplace_back("supra.v_head_dim", u32(c.v_dim));
  m.emplace_back("supra.rotary", boolean(c.rotary));
  m.emplace_back("supra.rotary_scale", GgufValue::f32(static_cast<float>(c.rope_scale)));
  m.emplace_back("supra.apply_qk_norm", boolean(c.qk_norm));
  m.emplace_back("supra.use_decay", boolean(c.use_decay));
  m.emplace_back("supra.use_retnet_slopes", boolean(c.retnet_slopes));
  if (c.decay_start) m.emplace_back("supra.decay_start", GgufValue::f32(static_cast<float>(*c.decay_start)));
  m.emplace_back("supra.weight_tying", boolean(c.tie_embeddings));
  if (!vocab) return m;
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<std::int64_t> kinds;
  for (const Tokenizer::VocabEntry& e : vocab->entries) {
    pieces.push_back(e.piece);
    scores.push_back(e.score);
    kinds.push_back(static_cast<std::int64_t>(e.kind));
  }
  m.emplace_back("tokenizer.ggml.model", GgufValue::string("llama"));
  m.emplace_back("tokenizer.ggml.tokens", GgufValue::string_array(std::move(pieces)));
  m.emplace_back("tokenizer.ggml.scores", GgufValue::f32_array(std::move(scores)));
  m.emplace_back("tokenizer.ggml.token_type", GgufValue::array(GgufType::Int32, std::move(kinds)));
  if (vocab->bos_id >= 0) m.emplace_back("tokenizer.ggml.bos_token_id", u32(vocab->bos_id));
  if (vocab->eos_id >= 0) m.emplace_back("tokenizer.ggml.eos_token_id", u32(vocab->eos_id));
  m.emplace_back("tokenizer.ggml.add_bos_token", boolean(vocab->add_bos));
  m.emplace_back("tokenizer.ggml.add_eos_token", boolean(vocab->add_eos));
  return m;
}

}  // namespace supra
