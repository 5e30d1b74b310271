// The communicator seam: one process without a launcher; launcher detection from the
// environment. (Two MPI ranks are tested end to end in test_trainer.cpp.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "supra/error.h"
#include "train/communicator.h"

namespace supra::test {
namespace {

using supra::train::LocalCommunicator;

TEST(Communicator, LocalIsOneRankThatKeepsItsValues) {
  LocalCommunicator c;
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  std::vector<float> f{1.5f, -2.0f};
  std::vector<double> d{3.25};
  c.allreduce_sum(std::span<float>(f));
  c.allreduce_sum(std::span<double>(d));
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(d, (std::vector<double>{3.25}));
  std::vector<std::byte> bytes(4, std::byte{7});
  c.broadcast(bytes, 0);
  EXPECT_EQ(bytes[3], std::byte{7});
  EXPECT_THROW(c.broadcast(bytes, 1), Error);
}

TEST(Communicator, LauncherIsDetectedFromItsEnvironment) {
  const char* names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
  for (const char* n : names) ASSERT_EQ(unsetenv(n), 0);
  EXPECT_FALSE(supra::train::launched_by_mpi_launcher());
  EXPECT_EQ(supra::train::make_communicator()->size(), 1);  // plain start: no MPI at all
  for (const char* n : names) {
    ASSERT_EQ(setenv(n, "0", 1), 0);
    EXPECT_TRUE(supra::train::launched_by_mpi_launcher()) << n;
    ASSERT_EQ(unsetenv(n), 0);
  }
}

}  // namespace
}  // namespace supra::test
