// libFuzzer target: the server's request bodies (src/serve/request.cpp): the JSON and UTF-8
// check, then each endpoint's field validation, with the shipped model's tokenizer. Every
// input must be accepted or refused with an ApiError (a 4xx), never anything else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "serve/api_error.h"
#include "serve/request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const supra::Tokenizer tokenizer = supra::Tokenizer::load_folder(SUPRA_FUZZ_MODEL);
  static const supra::serve::Limits limits;
  try {
    const nlohmann::json body = supra::serve::parse_body(std::string(reinterpret_cast<const char*>(data), size));
    for (int endpoint = 0; endpoint < 3; ++endpoint) {
      try {
        if (endpoint == 0) supra::serve::parse_completion(body, tokenizer, limits);
        if (endpoint == 1) supra::serve::parse_chat(body, tokenizer, limits, supra::find_chat_template("mistral"));
        if (endpoint == 2) supra::serve::parse_state_request(body, tokenizer, limits);
      } catch (const supra::serve::ApiError& e) {
        if (e.status() < 400 || e.status() >= 500) __builtin_trap();
      }
    }
  } catch (const supra::serve::ApiError& e) {
    if (e.status() < 400 || e.status() >= 500) __builtin_trap();
  }
  return 0;
}
