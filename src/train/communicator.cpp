#include "train/communicator.h"

#include <cstdlib>
#include <string>

#include "supra/error.h"
#if SUPRA_HAVE_MPI
#include "train/mpi_communicator.h"
#endif

namespace supra::train {

void LocalCommunicator::broadcast(std::span<std::byte>, int root) {
  if (root != 0) throw Error("broadcast from rank " + std::to_string(root) + " in a single-process job");
}

void LocalCommunicator::abort(int exit_code) { std::exit(exit_code); }

bool launched_by_mpi_launcher() {
  // Open MPI, PMIx (Open MPI 4+, Slurm), MPICH/Hydra and Slurm's PMI-1/2.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

std::unique_ptr<Communicator> make_communicator() {
#if SUPRA_HAVE_MPI
  if (launched_by_mpi_launcher()) return std::make_unique<MpiCommunicator>();
#else
  if (launched_by_mpi_launcher())
    throw Error("started by an MPI launcher, but this build has no MPI (configure with -DSUPRA_MPI=ON)");
#endif
  return std::make_unique<LocalCommunicator>();
}

}  // namespace supra::train
