// SplitMix64: the small, fast, fully specified generator behind every random choice of
// training (initialisation of new layers, data order). Its whole state is one integer, so a
// run is reproducible from its seed on any platform and standard library.
#pragma once
#include <cstdint>

namespace supra::train {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits: every value is an exact float.
  float next_unit_float() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * next_unit_float(); }
  // Uniform in [0, n) without modulo bias: values below 2^64 mod n are redrawn.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

 private:
  std::uint64_t state_;
};

// A seed for an independent stream derived from a base seed and a purpose/index.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  SplitMix64 g(seed ^ (0xD1B54A32D192ED03ull * (stream + 1)));
  return g.next();
}

}  // namespace supra::train
