#include "wait_policy.h"

#include <unistd.h>

#include <cstdlib>

namespace supra::cli {

void use_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;  // the user's choice, or re-executed already
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Only reached when exec failed (no /proc): run on under the runtime's default policy.
}

}  // namespace supra::cli
