// Little helpers for parsing untrusted binary files: little-endian loads that do not care
// about alignment, and overflow-checked size arithmetic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace supra {

// Reads an unsigned little-endian integer of sizeof(T) bytes at p (the host is little-endian,
// see tensor.cpp). The caller has checked that the bytes are there.
template <typename T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// a * b and a + b, or nullopt when the result does not fit: sizes read from a file must never
// wrap around and pass a bounds check by accident.
template <typename T>
std::optional<T> checked_mul(T a, T b) {
  T r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

template <typename T>
std::optional<T> checked_add(T a, T b) {
  T r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

}  // namespace supra
