// libFuzzer target: the tokenizer on arbitrary input text (any bytes, invalid UTF-8
// included) with the real Mistral model, and the streamer on the resulting ids.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "supra/error.h"
#include "supra/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const supra::Tokenizer tokenizer = supra::Tokenizer::load_model_file(SUPRA_FUZZ_TOKENIZER);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ids = tokenizer.encode(text, true);
  for (supra::TokenId id : ids)
    if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
  // Streaming must print exactly what a whole decode gives.
  supra::TextStreamer streamer(tokenizer);
  std::string streamed;
  for (supra::TokenId id : ids) streamed += streamer.push(id);
  streamed += streamer.flush();
  if (streamed != tokenizer.decode(ids)) std::abort();
  return 0;
}
