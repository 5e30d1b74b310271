#include "serve/logprobs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace supra::serve {

std::vector<float> log_softmax(std::span<const float> logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float x : logits) sum += std::exp(double(x) - max);
  const double log_z = max + std::log(sum);
  std::vector<float> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = float(double(logits[i]) - log_z);
  return out;
}

TokenLogprob token_logprob(std::span<const float> lp, TokenId id, int top) {
  TokenLogprob entry{id, 0, lp[static_cast<std::size_t>(id)], {}};
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(std::max(top, 0)), lp.size());
  std::vector<TokenId> order(lp.size());
  std::iota(order.begin(), order.end(), 0);
  // Ties broken by id so the listing is deterministic.
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](TokenId a, TokenId b) {
                      const auto ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
                      return lp[ua] != lp[ub] ? lp[ua] > lp[ub] : a < b;
                    });
  for (std::size_t i = 0; i < n; ++i) entry.top.emplace_back(order[i], lp[static_cast<std::size_t>(order[i])]);
  return entry;
}

}  // namespace supra::serve
