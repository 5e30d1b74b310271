// The per-document decisions and the aggregate statistics of lm-eval's multiple-choice tasks
// (shared docs/lm-eval-protocol.md §5): acc / acc_norm, mean with its standard error, and the
// size-weighted group score with the pooled standard error (MMLU).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace supra::eval {

// Number of Unicode code points in UTF-8 text (Python's len(str)): every byte that is not a
// continuation byte (10xxxxxx) starts one.
std::size_t code_points(std::string_view utf8);

// Index of the largest value; ties go to the lowest index (numpy argmax).
std::size_t argmax_first(std::span<const double> values);

struct Decision {
  std::size_t pred = 0;                    // argmax of the log-likelihoods
  bool acc = false;                        // pred == gold
  std::optional<std::size_t> pred_norm;    // argmax of ll / code_points(choice), when reported
  std::optional<bool> acc_norm;
};

// acc and, when `with_norm`, acc_norm of one document. `choices` are the doc_to_choice strings
// whose code-point lengths divide the log-likelihoods. Throws supra::Error when the counts
// disagree, the gold index is out of range, or (with_norm) a choice is empty: lm-eval would
// divide by zero there.
Decision decide(std::span<const double> loglikelihoods, const std::vector<std::string>& choices, int gold,
                bool with_norm);

// A mean over n documents and its standard error. lm-eval reports the error as "N/A" (here:
// nullopt) when it is undefined: n < 2, or a group with a member whose error is undefined.
struct Estimate {
  std::int64_t n = 0;
  double value = 0;
  std::optional<double> std_error;
};

// Plain mean and the sample standard deviation (n - 1) divided by sqrt(n).
Estimate mean_estimate(std::span<const double> samples);

// A group's score from its members' estimates: the mean weighted by size (the micro average
// over all their documents) and the pooled standard error
// sqrt( Σ (n_i - 1) se_i² n_i / (Σ n_i - k) / Σ n_i ) over the k members.
Estimate pooled_estimate(std::span<const Estimate> members);

}  // namespace supra::eval
