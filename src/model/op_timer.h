// OpTimer: adds the time of one operation of the decoder stack to an OpProfile (one
// steady_clock read on each side: negligible next to a matrix product).
#pragma once
#include <chrono>

#include "supra/op_profile.h"

namespace supra {

// Adds the time from its construction to its destruction to profile[op] (nothing when profile
// is null).
class OpTimer {
 public:
  OpTimer(OpProfile* profile, Op op) : profile_(profile), op_(op) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~OpTimer() {
    if (!profile_) return;
    OpProfile::Entry& e = (*profile_)[op_];
    e.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    ++e.calls;
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  OpProfile* profile_;
  Op op_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace supra
