// Random corruptions of real files: each must load or throw supra::Error, never crash or read
// out of bounds (this suite also runs under ASan/UBSan).
#include <gtest/gtest.h>

#include <random>

#include "io/safetensors.h"
#include "io/torch_zip.h"
#include "supra/error.h"
#include "test_support.h"

namespace supra {
namespace {

using Parser = std::vector<TensorView> (*)(std::span<const std::byte>, const std::string&);

std::vector<TensorView> parse_st(std::span<const std::byte> bytes, const std::string& what) {
  return parse_safetensors(bytes, what, nullptr);
}

// Flips 1-4 random bytes within [0, head) or the last `tail` bytes, or truncates anywhere;
// returns how many corruptions were rejected.
int corrupt_many(const std::string& good, std::size_t head, std::size_t tail, Parser parse) {
  std::mt19937 rng(1234);
  std::string bad = good;  // corrupted in place and restored: copying megabytes per round is slow
  int rejected = 0;
  for (int round = 0; round < 1000; ++round) {
    std::size_t size = bad.size();
    std::vector<std::size_t> flipped;
    if (round % 10 == 9) {
      size = std::uniform_int_distribution<std::size_t>(0, good.size() - 1)(rng);
    } else {
      for (int k = 0; k <= round % 4; ++k) {
        std::size_t pos = std::uniform_int_distribution<std::size_t>(0, head + tail - 1)(rng);
        if (pos >= head) pos = good.size() - tail + (pos - head);
        bad[pos] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        flipped.push_back(pos);
      }
    }
    const auto* begin = reinterpret_cast<const std::byte*>(bad.data());
    try {
      for (const TensorView& v : parse({begin, size}, "fuzz")) {  // views lie inside the buffer
        EXPECT_GE(v.data, begin);
        EXPECT_LE(v.data + v.nbytes, begin + size);
      }
    } catch (const Error&) {
      ++rejected;
    }
    for (std::size_t pos : flipped) bad[pos] = good[pos];
  }
  return rejected;
}

TEST(Fuzz, CorruptedTorchZipsNeverCrash) {
  const std::string good =
      test::read_file(test::data_dir() / "golden/supra_gqa-bin/pytorch_model.bin");
  // The pickle comes first in the archive, the directory last.
  EXPECT_GT(corrupt_many(good, 9000, 5000, parse_torch_zip), 50);
}

TEST(Fuzz, CorruptedSafetensorsNeverCrash) {
  const std::string good = test::read_file(test::data_dir() / "golden/supra_gqa/model.safetensors");
  EXPECT_GT(corrupt_many(good, 4000, 1, parse_st), 50);
}

}  // namespace
}  // namespace supra
