// Sampler: the HF `generate` logits processors and the categorical draw (spec §9).
//
// Reproducibility: the same SamplingParams (seed included) and the same logits give the same
// tokens in supra on every platform, because the draw uses only raw std::mt19937_64 output
// (fully specified by the standard) and not std::uniform_real_distribution (whose algorithm
// differs between standard libraries). Matching torch.multinomial token for token is not
// possible and is not claimed.
//
// NaN scores are treated as smaller than every number, in every step (ordering, argmax,
// probability 0). torch would propagate them; a deterministic rule is more useful here.
#include "supra/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>

#include "supra/error.h"

namespace supra {
namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

// Strict weak order on floats with NaN below everything, so sorts and selections are
// well defined even for broken logits (plain `<` with NaN breaks std::sort's contract).
bool nan_first_less(float a, float b) { return (std::isnan(a) && !std::isnan(b)) || a < b; }

std::string show(float value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

void check_top_k(int k) {
  if (k < 0) throw Error("--top-k must be >= 0 (0 disables), got " + std::to_string(k));
}

void check_top_p(float p) {
  // Written as !(in range) so that NaN fails too.
  if (!(p > 0.0f && p <= 1.0f)) throw Error("--top-p must be in (0, 1] (1 disables), got " + show(p));
}

void check_min_p(float p) {
  if (!(p >= 0.0f && p <= 1.0f)) throw Error("--min-p must be in [0, 1] (0 disables), got " + show(p));
}

void check_finite(float value, const char* flag) {
  if (!std::isfinite(value)) throw Error(std::string(flag) + " must be a finite number, got " + show(value));
}

void check_repetition_penalty(float penalty) {
  if (!(std::isfinite(penalty) && penalty > 0.0f)) {
    throw Error("--repetition-penalty must be a finite number > 0 (1 disables), got " + show(penalty));
  }
}

// softmax(scores) in double with the maximum subtracted. NaN and -inf get probability 0.
// If some score is +inf (e.g. a finite logit divided by a tiny temperature), the +inf
// entries share all the mass equally: the limit of the softmax as they grow.
// Returns all zeros when no score can carry probability (every one -inf or NaN).
std::vector<double> softmax(std::span<const float> scores) {
  std::vector<double> probs(scores.size(), 0.0);
  float max = kMinusInf;
  for (float s : scores) {
    if (s > max) max = s;  // false for NaN
  }
  if (max == kMinusInf) return probs;
  double total = 0.0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const float s = scores[i];
    if (std::isinf(max)) {
      probs[i] = s == max ? 1.0 : 0.0;
    } else if (!std::isnan(s)) {
      probs[i] = std::exp(static_cast<double>(s) - static_cast<double>(max));  // exp(-inf) = 0
    }
    total += probs[i];
  }
  for (double& p : probs) p /= total;
  return probs;
}

// Index drawn from `probs` (need not sum exactly to 1) with a uniform u in [0, 1).
// The first index whose running sum exceeds u * total wins: a zero-probability entry never
// raises the running sum, so it can never be the first to exceed the target.
TokenId draw(const std::vector<double>& probs, std::mt19937_64& rng) {
  const double total = std::accumulate(probs.begin(), probs.end(), 0.0);
  if (!(total > 0.0)) throw Error("sampling: every token has probability 0 (all scores are -inf or NaN)");
  // The top 53 bits of one engine output, scaled: uniform on a 2^-53 grid in [0, 1).
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  const double target = u * total;
  double running = 0.0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    running += probs[i];
    if (running > target) return static_cast<TokenId>(i);
  }
  // Rounding can leave target == running total; fall back to the last possible token.
  std::size_t last = probs.size() - 1;
  while (probs[last] == 0.0) --last;  // terminates: total > 0
  return static_cast<TokenId>(last);
}

}  // namespace

void SamplingParams::validate() const {
  if (!(std::isfinite(temperature) && temperature >= 0.0f)) {
    throw Error("--temperature must be a finite number >= 0 (0 = greedy), got " + show(temperature));
  }
  check_top_k(top_k);
  check_top_p(top_p);
  check_repetition_penalty(repetition_penalty);
  check_min_p(min_p);
  check_finite(frequency_penalty, "--frequency-penalty");
  check_finite(presence_penalty, "--presence-penalty");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0) throw Error("--logit-bias: token id " + std::to_string(id) + " is negative");
    check_finite(bias, "--logit-bias");
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) { params_.validate(); }

TokenId Sampler::sample(std::span<float> logits, std::span<const TokenId> history) {
  if (logits.empty()) throw Error("sampling: empty logits");
  // HF installs each processor only for a non-neutral setting. Skipping the neutral ones is
  // equivalent and saves work (the penalty sorts the whole history every step).
  if (params_.repetition_penalty != 1.0f) {
    apply_repetition_penalty(logits, history, params_.repetition_penalty);
  }
  const bool counting = params_.frequency_penalty != 0.0f || params_.presence_penalty != 0.0f;
  if (counting) apply_frequency_presence(logits, drawn_, params_.frequency_penalty, params_.presence_penalty);
  if (!params_.logit_bias.empty()) apply_logit_bias(logits, params_.logit_bias);
  const TokenId next = params_.temperature == 0.0f ? argmax(logits) : warp_and_draw(logits);
  if (counting) {
    const auto it = std::ranges::find(drawn_, next, &std::pair<TokenId, int>::first);
    if (it == drawn_.end()) drawn_.emplace_back(next, 1);
    else ++it->second;
  }
  return next;
}

TokenId Sampler::warp_and_draw(std::span<float> logits) {
  if (params_.temperature != 1.0f) apply_temperature(logits, params_.temperature);
  if (params_.top_k != 0) apply_top_k(logits, params_.top_k);
  if (params_.top_p < 1.0f) apply_top_p(logits, params_.top_p);
  if (params_.min_p > 0.0f) apply_min_p(logits, params_.min_p);
  return draw(softmax(logits), rng_);
}

void apply_frequency_presence(std::span<float> logits, std::span<const std::pair<TokenId, int>> counts,
                              float frequency, float presence) {
  for (const auto& [id, count] : counts) {
    if (id < 0 || static_cast<std::size_t>(id) >= logits.size()) {
      throw Error("frequency/presence penalty: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(logits.size()) + ")");
    }
    if (count <= 0) continue;
    logits[static_cast<std::size_t>(id)] -= static_cast<float>(count) * frequency + presence;
  }
}

void apply_logit_bias(std::span<float> logits, std::span<const std::pair<TokenId, float>> bias) {
  for (const auto& [id, b] : bias) {
    if (id < 0 || static_cast<std::size_t>(id) >= logits.size()) {
      throw Error("logit bias: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(logits.size()) + ")");
    }
    logits[static_cast<std::size_t>(id)] += b;
  }
}

void apply_repetition_penalty(std::span<float> logits, std::span<const TokenId> history, float penalty) {
  check_repetition_penalty(penalty);
  const auto vocab = static_cast<std::int64_t>(logits.size());
  for (TokenId id : history) {
    if (id < 0 || id >= vocab) {
      throw Error("repetition penalty: history token id " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
  // HF gathers the scores of all history ids, transforms them, then scatters them back, so
  // an id that occurs several times is still penalised once: deduplicate.
  std::vector<TokenId> ids(history.begin(), history.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (TokenId id : ids) {
    float& s = logits[static_cast<std::size_t>(id)];
    s = s < 0.0f ? s * penalty : s / penalty;  // torch.where(score < 0, ...): 0 is divided
  }
}

void apply_temperature(std::span<float> logits, float temperature) {
  if (!(std::isfinite(temperature) && temperature > 0.0f)) {
    throw Error("--temperature must be a finite number > 0 to scale scores, got " + show(temperature));
  }
  // A division, not a multiplication by 1/T, as the HF warper writes it.
  for (float& s : logits) s /= temperature;
}

void apply_top_k(std::span<float> logits, int k) {
  check_top_k(k);
  const std::size_t keep = std::min(static_cast<std::size_t>(k), logits.size());
  if (keep == 0) return;
  std::vector<float> sorted(logits.begin(), logits.end());
  const auto kth = sorted.begin() + static_cast<std::ptrdiff_t>(keep - 1);
  std::nth_element(sorted.begin(), kth, sorted.end(), [](float a, float b) { return nan_first_less(b, a); });
  const float threshold = *kth;
  // Strictly below the k-th largest: ties with it survive, so more than k may remain.
  for (float& s : logits) {
    if (nan_first_less(s, threshold)) s = kMinusInf;
  }
}

void apply_top_p(std::span<float> logits, float p) {
  check_top_p(p);
  if (p == 1.0f || logits.empty()) return;
  // Ascending order like torch.sort(descending=False). torch does not promise stability;
  // a stable sort makes ties deterministic: among equal scores the higher index counts as
  // the more likely one.
  std::vector<std::size_t> order(logits.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return nan_first_less(logits[a], logits[b]); });
  std::vector<float> sorted(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) sorted[i] = logits[order[i]];
  const std::vector<double> probs = softmax(sorted);
  // Remove while the mass counted from the least likely end is <= 1 - p. HF does this in
  // float32; double differs only for cumulative sums within rounding of the boundary.
  const double limit = 1.0 - static_cast<double>(p);
  double cumulative = 0.0;
  for (std::size_t i = 0; i + 1 < order.size(); ++i) {  // the last (most likely) is always kept
    cumulative += probs[i];
    if (cumulative > limit) break;  // the sum only grows: nothing further is removed
    logits[order[i]] = kMinusInf;
  }
}

void apply_min_p(std::span<float> logits, float p) {
  check_min_p(p);
  if (p == 0.0f || logits.empty()) return;
  float max = kMinusInf;
  for (float s : logits) {
    if (s > max) max = s;  // false for NaN
  }
  if (!std::isfinite(max)) return;  // nothing finite to compare with (softmax() handles +inf)
  // p_i / p_max = exp(s_i - max) < p  <=>  s_i < max + log(p), without a softmax.
  const double threshold = static_cast<double>(max) + std::log(static_cast<double>(p));
  for (float& s : logits) {
    if (std::isnan(s) || static_cast<double>(s) < threshold) s = kMinusInf;
  }
}

TokenId argmax(std::span<const float> logits) {
  if (logits.empty()) throw Error("argmax: empty logits");
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (nan_first_less(logits[best], logits[i])) best = i;  // strict: the first maximum stays
  }
  return static_cast<TokenId>(best);
}

}  // namespace supra
