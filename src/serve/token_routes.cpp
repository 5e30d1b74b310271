// POST /tokenize and POST /detokenize, in the shapes of llama.cpp's server:
//   {"content": "text", "add_special": false, "with_pieces": false} -> {"tokens": [ids]}
//     (with_pieces: {"tokens": [{"id": 1, "piece": "text"}]}, a piece that is not UTF-8 on its own
//     being its bytes as an array of numbers)
//   {"tokens": [ids]} -> {"content": "text"}
#include "serve/api_error.h"
#include "serve/context.h"
#include "serve/request_body.h"
#include "serve/responses.h"

namespace supra::serve {
namespace {

using nlohmann::json;

bool flag(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw ApiError(400, std::string("'") + name + "' must be a boolean", name, "invalid_type");
  return it->get<bool>();
}

// The bytes a byte-fallback piece stands for (-1 for other pieces), looked up once.
std::vector<int> byte_values(const Tokenizer& tokenizer) {
  std::vector<int> out;
  for (const auto& v : tokenizer.vocabulary()) {
    const bool byte = v.kind == Tokenizer::PieceKind::Byte && v.piece.size() == 6;
    out.push_back(byte ? std::stoi(v.piece.substr(3, 2), nullptr, 16) : -1);
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

json piece_json(const Tokenizer& tokenizer, const std::vector<int>& bytes, TokenId id) {
  const int byte = bytes[static_cast<std::size_t>(id)];
  const std::string text = byte >= 0 ? std::string(1, static_cast<char>(byte)) : token_name(tokenizer, id);
  if (valid_utf8(text)) return text;
  json raw = json::array();
  for (const unsigned char c : text) raw.push_back(c);
  return raw;
}

// The answer is written as text, not built as a JSON tree: a 1 MiB prompt is ~300k tokens, and a
// tree of {"id", "piece"} objects for them took ~110 MB more per request than the ~8 MB text.
std::string tokenize(const ServeContext& ctx, const std::vector<int>& bytes, const json& body) {
  const auto content = body.find("content");
  if (content == body.end() || content->is_null())
    throw ApiError(400, "'content' is required", "content", "missing_field");
  if (!content->is_string()) throw ApiError(400, "'content' must be a string", "content", "invalid_type");
  // add_special: BOS (and EOS) as the model's tokenizer adds them; off by default, as llama.cpp.
  const bool special = flag(body, "add_special"), pieces = flag(body, "with_pieces");
  const std::vector<TokenId> ids = ctx.tokenizer.encode(content->get<std::string>(), special);
  std::string out = "{\"tokens\":[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    if (!pieces) {
      out += std::to_string(ids[i]);
      continue;
    }
    out += "{\"id\":" + std::to_string(ids[i]) + ",\"piece\":" + dump(piece_json(ctx.tokenizer, bytes, ids[i])) + '}';
  }
  return out + "]}";
}

json detokenize(const ServeContext& ctx, const json& body) {
  const auto tokens = body.find("tokens");
  if (tokens == body.end() || tokens->is_null()) throw ApiError(400, "'tokens' is required", "tokens", "missing_field");
  if (!tokens->is_array()) throw ApiError(400, "'tokens' must be an array of token ids", "tokens", "invalid_type");
  std::vector<TokenId> ids;
  ids.reserve(tokens->size());
  for (const auto& t : *tokens) {
    if (!t.is_number_integer()) throw ApiError(400, "'tokens' must be an array of token ids", "tokens", "invalid_type");
    const bool in_range = t.is_number_unsigned() ? t.get<unsigned long long>() < unsigned(ctx.tokenizer.vocab_size())
                                                 : t.get<long long>() >= 0 && t.get<long long>() < ctx.tokenizer.vocab_size();
    if (!in_range)
      throw bad_param("tokens", "token id " + t.dump() + " is outside the vocabulary [0, " +
                                    std::to_string(ctx.tokenizer.vocab_size()) + ")");
    ids.push_back(t.get<TokenId>());
  }
  return {{"content", ctx.tokenizer.decode(ids)}};
}

}  // namespace

void add_token_routes(httplib::Server& server, ServeContext& ctx) {
  using Reader = httplib::ContentReader;
  server.Post("/tokenize", [&ctx, bytes = byte_values(ctx.tokenizer)](const httplib::Request& req, httplib::Response& res,
                                                                     const Reader& reader) {
    answer(res, [&] { send_json(res, tokenize(ctx, bytes, parse_body(read_body(req, reader, ctx.limits.max_body_bytes)))); });
  });
  server.Post("/detokenize", [&ctx](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    answer(res, [&] { send_json(res, dump(detokenize(ctx, parse_body(read_body(req, reader, ctx.limits.max_body_bytes))))); });
  });
}

}  // namespace supra::serve
