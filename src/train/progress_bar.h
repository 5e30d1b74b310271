// Training progress on stderr: a bar redrawn in place on a terminal, a line every few percent
// otherwise (logs of batch jobs).
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>

namespace supra::train {

class ProgressBar {
 public:
  ProgressBar(std::FILE* stream, bool is_terminal, std::int64_t first_step, std::int64_t total_steps);
  // After step `step` (1-based) with its loss and throughput.
  void update(std::int64_t step, double loss, double tok_s);

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* stream_;
  bool is_terminal_;
  std::int64_t first_step_, total_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  std::int64_t last_percent_step_ = -1;
};

}  // namespace supra::train
