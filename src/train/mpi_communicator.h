// The Communicator over MPI (Open MPI or any MPI-3 library). Initialises MPI on construction and
// finalises it on destruction; one per process.
#pragma once
#include "train/communicator.h"

namespace supra::train {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator();  // MPI_Init_thread (funneled: only the main thread calls MPI)
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<float> values) override;
  void allreduce_sum(std::span<double> values) override;
  void broadcast(std::span<std::byte> bytes, int root) override;
  void barrier() override;
  [[noreturn]] void abort(int exit_code) override;

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace supra::train
