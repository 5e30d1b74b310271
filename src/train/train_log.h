// The training log: one CSV row per optimizer step (docs/TRAINING.md). Losses are printed with
// 17 significant digits, so the text is the exact double and two runs can be compared bit for
// bit from their logs.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace supra::train {

struct StepRecord {
  std::int64_t step = 0;    // optimizer steps done (1 for the first)
  std::int64_t tokens = 0;  // training tokens consumed so far (global)
  double lr = 0;            // learning rate used by this step
  double loss = 0;          // ce + z_loss, mean over the global batch
  double ce = 0;
  double z_loss = 0;
  double grad_norm = 0;  // global norm before clipping
  double tok_s = 0;      // training tokens per second of this step (all ranks)
  std::optional<double> val_loss;  // when validation ran after this step
};

std::string csv_header();  // "step,tokens,lr,loss,ce,z_loss,grad_norm,tok_s,val_loss\n"
std::string csv_row(const StepRecord& r);
// Parses a log written by csv_header/csv_row; throws supra::Error naming `source` and the line.
std::vector<StepRecord> parse_csv(const std::string& text, const std::string& source);

}  // namespace supra::train
