#include "serve/histogram.h"

#include <algorithm>

namespace supra::serve {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double seconds) {
  seconds = std::max(seconds, 0.0);
  // The first bound >= the value: Prometheus buckets are "less than or equal".
  const auto bucket = static_cast<std::size_t>(std::ranges::lower_bound(bounds_, seconds) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
}

void Histogram::render(std::ostringstream& out, const char* name, const char* help) const {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out << name << "_bucket{le=\"";
    if (i < bounds_.size()) out << bounds_[i];
    else out << "+Inf";
    out << "\"} " << cumulative << '\n';
  }
  out << name << "_sum " << sum_.load(std::memory_order_relaxed) << '\n' << name << "_count " << cumulative << '\n';
}

}  // namespace supra::serve
