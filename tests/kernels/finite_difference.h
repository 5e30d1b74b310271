// Central differences of a scalar function of a vector in double precision: the reference
// gradient of the backward-kernel tests (the function is a double-precision twin of the
// forward kernel contracted with a fixed upstream gradient).
#pragma once
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

namespace supra::kernels::test {

template <class F>
std::vector<double> numeric_gradient(std::vector<double> x, const F& f) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i], h = 1e-6 * std::max(1.0, std::abs(x0));
    x[i] = x0 + h;
    const double up = f(x);
    x[i] = x0 - h;
    const double down = f(x);
    x[i] = x0;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

inline std::vector<double> widen(std::span<const float> x) { return std::vector<double>(x.begin(), x.end()); }

// Σ a_i b_i
inline double contract(std::span<const double> a, std::span<const float> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// init + delta: the expected content of an accumulating gradient output.
inline std::vector<double> plus(std::span<const float> init, const std::vector<double>& delta) {
  std::vector<double> out(delta.size());
  for (std::size_t i = 0; i < delta.size(); ++i) out[i] = init[i] + delta[i];
  return out;
}

}  // namespace supra::kernels::test
