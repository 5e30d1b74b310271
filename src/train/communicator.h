// The communicators behind supra/train.h's interface: one process without communication, and
// how a launcher is recognised (the MPI one is in mpi_communicator.h).
#pragma once
#include <cstddef>
#include <memory>
#include <span>

#include "supra/train.h"

namespace supra::train {

// One process, no communication.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void broadcast(std::span<std::byte>, int root) override;
  void barrier() override {}
  [[noreturn]] void abort(int exit_code) override;
};

// True when this process was started by an MPI launcher (mpirun / mpiexec / srun with PMI):
// the launcher's rank variables are in the environment.
bool launched_by_mpi_launcher();

}  // namespace supra::train
