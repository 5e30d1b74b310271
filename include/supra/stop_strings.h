// StopMatcher: ends a completion at the first occurrence of any stop string (OpenAI's `stop`,
// `supra generate --stop`), across token boundaries. Text that could be the start of a stop
// string is held back until the next token decides, so a streamed reader never sees part of one.
#pragma once
#include <string>
#include <vector>

namespace supra {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds generated text; returns the text that is now safe to emit (before any stop string).
  std::string push(const std::string& text);
  // The end of generation: whatever is still held back is text after all.
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace supra
