// Communicator: what data-parallel training needs from the processes it runs in (rank, size,
// sums across ranks, broadcast, barrier). The trainer talks only to this interface, so the
// transport (MPI today, NCCL later) stays behind it.
#pragma once
#include <cstddef>
#include <memory>
#include <span>

namespace supra::train {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank ends with the element-wise sum over all ranks (same values on every rank).
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<double> values) = 0;
  // Every rank ends with the bytes of rank `root`.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job: after an error on one rank, the others would otherwise wait
  // forever in the next collective.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

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

// The MPI communicator when this build has MPI and the process was started by a launcher;
// otherwise a LocalCommunicator, so that `supra train` without mpirun never touches MPI (an
// MPI singleton start spawns helper daemons and fails in many containers).
std::unique_ptr<Communicator> make_communicator();

}  // namespace supra::train
