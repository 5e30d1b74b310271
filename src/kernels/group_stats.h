// Mean and 1/std of one GroupNorm group (biased variance, accumulated in double), shared by
// the forward (elementwise.cpp) and the backward (norms_backward.cpp) so both see the same
// statistics.
#pragma once
#include <cmath>
#include <cstdint>

namespace supra::kernels {

struct GroupStats {
  double mean;
  double inv_std;
};

inline GroupStats group_stats(const float* x, std::int64_t d, float eps) {
  double mean = 0.0;
  for (std::int64_t i = 0; i < d; ++i) mean += x[i];
  mean /= double(d);
  double var = 0.0;
  for (std::int64_t i = 0; i < d; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= double(d);
  return {mean, 1.0 / std::sqrt(var + double(eps))};
}

}  // namespace supra::kernels
