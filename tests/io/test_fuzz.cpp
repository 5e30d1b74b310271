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
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bad = good;
    if (round % 10 == 9) {
      bad.resize(std::uniform_int_distribution<std::size_t>(0, good.size() - 1)(rng));
    } else {
      const int flips = 1 + round % 4;
      for (int k = 0; k < flips; ++k) {
        std::size_t pos = std::uniform_int_distribution<std::size_t>(0, head + tail - 1)(rng);
        if (pos >= head) pos = good.size() - tail + (pos - head);
        bad[pos] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
      }
    }
    try {
      const auto views = parse({reinterpret_cast<const std::byte*>(bad.data()), bad.size()}, "fuzz");
      for (const TensorView& v : views) {  // every view must lie inside the buffer
        const auto* begin = reinterpret_cast<const std::byte*>(bad.data());
        EXPECT_GE(v.data, begin);
        EXPECT_LE(v.data + v.nbytes, begin + bad.size());
      }
    } catch (const Error&) {
      ++rejected;
    }
  }
  return rejected;
}

TEST(Fuzz, CorruptedTorchZipsNeverCrash) {
  const std::string good = test::read_file(test::data_dir() / "golden/supra_gqa-bin/pytorch_model.bin");
  // The pickle comes first in the archive, the directory last.
  EXPECT_GT(corrupt_many(good, 9000, 5000, parse_torch_zip), 100);
}

TEST(Fuzz, CorruptedSafetensorsNeverCrash) {
  const std::string good = test::read_file(test::data_dir() / "golden/supra_gqa/model.safetensors");
  EXPECT_GT(corrupt_many(good, 4000, 1, parse_st), 100);
}

}  // namespace
}  // namespace supra
