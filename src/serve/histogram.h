// Histogram: a Prometheus histogram of durations in seconds, observed from any thread (atomic
// counts), rendered as cumulative `_bucket{le="..."}` lines ending with `+Inf`, then `_sum` and
// `_count`. The bounds are fixed at construction.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace supra::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // increasing, finite; +Inf is implied

  void observe(double seconds);
  // HELP, TYPE, buckets, _sum and _count of `name`. _count is the +Inf bucket of the same
  // snapshot, so the two always agree, even while other threads observe.
  void render(std::ostringstream& out, const char* name, const char* help) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0};
};

}  // namespace supra::serve
