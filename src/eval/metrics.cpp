#include "supra/eval_metrics.h"

#include <cmath>

#include "supra/error.h"

namespace supra::eval {

std::size_t code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (const char c : utf8)
    if ((static_cast<unsigned char>(c) & 0xC0u) != 0x80u) ++n;
  return n;
}

std::size_t argmax_first(std::span<const double> values) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = i;  // strict: an equal later value never wins
  return best;
}

Decision decide(std::span<const double> loglikelihoods, const std::vector<std::string>& choices, int gold,
                bool with_norm) {
  if (loglikelihoods.empty() || loglikelihoods.size() != choices.size())
    throw Error("a document has " + std::to_string(loglikelihoods.size()) + " log-likelihoods for " +
                std::to_string(choices.size()) + " choices");
  if (gold < 0 || static_cast<std::size_t>(gold) >= choices.size())
    throw Error("gold index " + std::to_string(gold) + " is outside the " + std::to_string(choices.size()) +
                " choices");
  const auto gold_index = static_cast<std::size_t>(gold);
  Decision d;
  d.pred = argmax_first(loglikelihoods);
  d.acc = d.pred == gold_index;
  if (with_norm) {
    std::vector<double> normalized(loglikelihoods.size());
    for (std::size_t i = 0; i < choices.size(); ++i) {
      const std::size_t length = code_points(choices[i]);
      if (length == 0) throw Error("choice " + std::to_string(i) + " is empty: acc_norm cannot divide by its length");
      normalized[i] = loglikelihoods[i] / static_cast<double>(length);
    }
    d.pred_norm = argmax_first(normalized);
    d.acc_norm = *d.pred_norm == gold_index;
  }
  return d;
}

Estimate mean_estimate(std::span<const double> samples) {
  Estimate e;
  e.n = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) return e;
  double sum = 0;
  for (const double x : samples) sum += x;
  e.value = sum / static_cast<double>(e.n);
  if (e.n < 2) return e;
  double squares = 0;
  for (const double x : samples) squares += (x - e.value) * (x - e.value);
  e.std_error = std::sqrt(squares / static_cast<double>(e.n - 1)) / std::sqrt(static_cast<double>(e.n));
  return e;
}

Estimate pooled_estimate(std::span<const Estimate> members) {
  Estimate e;
  double weighted = 0;
  double pooled_variance = 0;
  bool defined = !members.empty();
  for (const Estimate& m : members) {
    e.n += m.n;
    weighted += m.value * static_cast<double>(m.n);
    if (!m.std_error) {
      defined = false;
      continue;
    }
    const auto n = static_cast<double>(m.n);
    pooled_variance += (n - 1) * *m.std_error * *m.std_error * n;
  }
  if (e.n == 0) return e;
  e.value = weighted / static_cast<double>(e.n);
  const auto degrees = e.n - static_cast<std::int64_t>(members.size());
  if (defined && degrees > 0)
    e.std_error = std::sqrt(pooled_variance / static_cast<double>(degrees) / static_cast<double>(e.n));
  return e;
}

}  // namespace supra::eval
