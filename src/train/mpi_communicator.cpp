#include "train/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "supra/error.h"

namespace supra::train {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

// MPI counts are int: large arrays go in slices of at most 2^30 elements.
constexpr std::size_t kSlice = std::size_t{1} << 30;

template <typename T>
void allreduce_in_slices(std::span<T> values, MPI_Datatype type) {
  for (std::size_t at = 0; at < values.size(); at += kSlice) {
    const auto n = static_cast<int>(std::min(kSlice, values.size() - at));
    check(MPI_Allreduce(MPI_IN_PLACE, values.data() + at, n, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator() {
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (turned into supra::Error) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiCommunicator::~MpiCommunicator() { MPI_Finalize(); }

void MpiCommunicator::allreduce_sum(std::span<float> values) { allreduce_in_slices(values, MPI_FLOAT); }

void MpiCommunicator::allreduce_sum(std::span<double> values) { allreduce_in_slices(values, MPI_DOUBLE); }

void MpiCommunicator::broadcast(std::span<std::byte> bytes, int root) {
  for (std::size_t at = 0; at < bytes.size(); at += kSlice) {
    const auto n = static_cast<int>(std::min(kSlice, bytes.size() - at));
    check(MPI_Bcast(bytes.data() + at, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
}

void MpiCommunicator::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

void MpiCommunicator::abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

}  // namespace supra::train
