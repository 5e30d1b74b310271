// How idle OpenMP threads wait, chosen before the OpenMP runtime starts.
#pragma once

namespace supra::cli {

// GNU OpenMP spins its idle threads for a long while by default (OMP_WAIT_POLICY unset). On a
// machine where another job holds a core, a spinning thread burns the time slice its team-mate
// needs to reach the barrier, and every parallel region of a prefill stretches to a scheduler
// tick: 15.1 s instead of 0.87 s for a 1,701-token prompt on 2 busy cores (docs/PERFORMANCE.md).
// The runtime reads the policy once, when the library loads, before main(); so when the user
// has not chosen one, this re-executes the program with OMP_WAIT_POLICY=passive (a few ms).
// Decode does not need the spinning: its matmuls run on supra's own pool (kernels/thread_pool.h),
// which spins briefly itself. OMP_WAIT_POLICY=active (or any value) keeps the user's choice.
void use_passive_openmp_waits(char** argv);

}  // namespace supra::cli
