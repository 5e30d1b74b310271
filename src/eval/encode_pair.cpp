// lm-eval's TemplateLM._encode_pair with HFLM.tok_encode (protocol §3).
#include <algorithm>

#include "eval/python_text.h"
#include "supra/error.h"
#include "supra/eval.h"

namespace supra::eval {

EncodedRequest encode_pair(const Tokenizer& tokenizer, const Request& request, Profile profile) {
  // lm-eval gives an empty context a one-token stand-in before it gets here; none of the
  // six tasks has one, so it is refused rather than half-supported.
  if (request.context.empty()) throw Error("encode_pair: empty context (not produced by any supported task)");
  // Trailing whitespace of the context (Python rstrip) moves to the front of the continuation.
  std::size_t keep = python_rstrip_size(request.context);
  std::string context = request.context.substr(0, keep);
  std::string whole_text = request.context + request.continuation;
  // v0.4.12 encodes with the tokenizer's own special tokens (add_bos), v0.4.2 with none.
  bool with_specials = profile == Profile::V0_4_12;
  std::vector<TokenId> whole = tokenizer.encode(whole_text, with_specials);
  EncodedRequest out;
  out.context = tokenizer.encode(context, with_specials);
  // Whole-then-split: the continuation is what follows len(context ids) in the whole
  // encoding, even when the context ids are not a prefix of it (lm-eval does the same).
  std::size_t split = std::min(out.context.size(), whole.size());
  out.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(split), whole.end());
  return out;
}

}  // namespace supra::eval
