#include "train/progress_bar.h"

#include <string>

namespace supra::train {
namespace {

std::string duration_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lldh%02lldm", s / 3600, s / 60 % 60);
  else
    std::snprintf(text, sizeof text, "%lldm%02llds", s / 60, s % 60);
  return text;
}

}  // namespace

ProgressBar::ProgressBar(std::FILE* stream, bool is_terminal, std::int64_t first_step, std::int64_t total_steps)
    : stream_(stream), is_terminal_(is_terminal), first_step_(first_step), total_(total_steps) {}

void ProgressBar::update(std::int64_t step, double loss, double tok_s) {
  if (total_ <= 0) return;
  const Clock::time_point now = Clock::now();
  const bool finished = step >= total_;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double per_step = step > first_step_ ? elapsed / static_cast<double>(step - first_step_) : 0;
  const std::string timing = finished ? "elapsed " + duration_text(elapsed)
                                      : "ETA " + duration_text(per_step * static_cast<double>(total_ - step));
  const auto percent = static_cast<int>(step * 100 / total_);
  if (is_terminal_) {
    // A few redraws per second are enough for the eye.
    if (!finished && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    constexpr std::int64_t kWidth = 30;
    const auto filled = static_cast<std::size_t>(step * kWidth / total_);
    const std::string bar = std::string(filled, '#') + std::string(static_cast<std::size_t>(kWidth) - filled, ' ');
    std::fprintf(stream_, "\r[%s] %3d%% step %lld/%lld  loss %.4f  %.0f tok/s  %s%s", bar.c_str(), percent,
                 static_cast<long long>(step), static_cast<long long>(total_), loss, tok_s, timing.c_str(),
                 finished ? "\n" : "");
  } else {
    const std::int64_t mark = step * 20 / total_;  // every 5%
    if (mark == last_percent_step_ && !finished) return;
    last_percent_step_ = mark;
    std::fprintf(stream_, "train: %d%% step %lld/%lld, loss %.4f, %.0f tok/s, %s\n", percent,
                 static_cast<long long>(step), static_cast<long long>(total_), loss, tok_s, timing.c_str());
  }
  std::fflush(stream_);
}

}  // namespace supra::train
