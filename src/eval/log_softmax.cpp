// token_log_prob with Highway, compiled once per x86 target (this file re-includes itself
// through foreach_target.h) and dispatched at run time. The sum of exp(x - max) runs in float64
// lanes with Highway's Exp (1 ULP), so it differs from a scalar std::exp loop only in the
// order of the additions.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "eval/log_softmax.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <algorithm>
#include <cmath>

#include "eval/log_softmax.h"

HWY_BEFORE_NAMESPACE();
namespace supra::eval {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float row_max(const float* row, std::size_t n) {
  const hn::ScalableTag<float> df;
  const std::size_t lanes = hn::Lanes(df);
  float max = row[0];
  std::size_t i = 0;
  if (n >= lanes) {
    auto m = hn::LoadU(df, row);
    for (i = lanes; i + lanes <= n; i += lanes) m = hn::Max(m, hn::LoadU(df, row + i));
    max = hn::GetLane(hn::MaxOfLanes(df, m));
  }
  for (; i < n; ++i) max = std::max(max, row[i]);
  return max;
}

// Σ exp(row[i] - max) in float64.
double sum_exp(const float* row, std::size_t n, double max) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // as many floats as a vector has doubles
  const std::size_t lanes = hn::Lanes(dd);
  const auto vmax = hn::Set(dd, max);
  auto sum0 = hn::Zero(dd), sum1 = hn::Zero(dd);
  std::size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    sum0 = hn::Add(sum0, hn::Exp(dd, hn::Sub(hn::PromoteTo(dd, hn::LoadU(df, row + i)), vmax)));
    sum1 = hn::Add(sum1, hn::Exp(dd, hn::Sub(hn::PromoteTo(dd, hn::LoadU(df, row + i + lanes)), vmax)));
  }
  double sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(sum0, sum1)));
  for (; i < n; ++i) sum += std::exp(static_cast<double>(row[i]) - max);
  return sum;
}

TokenLogProb token_log_prob(const float* row, std::size_t n, std::size_t target) {
  const float max = row_max(row, n);
  // The target is the argmax when it holds the maximum and no earlier index does (only then is
  // the scan needed).
  const bool is_argmax = row[target] == max && std::find(row, row + target, max) == row + target;
  const double sum = sum_exp(row, n, max);
  return {static_cast<double>(row[target]) - static_cast<double>(max) - std::log(sum), is_argmax};
}

}  // namespace HWY_NAMESPACE
}  // namespace supra::eval
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace supra::eval {

HWY_EXPORT(token_log_prob);

TokenLogProb token_log_prob(std::span<const float> row, TokenId target) {
  return HWY_DYNAMIC_DISPATCH(token_log_prob)(row.data(), row.size(), static_cast<std::size_t>(target));
}

}  // namespace supra::eval
#endif
