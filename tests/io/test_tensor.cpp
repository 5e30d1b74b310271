#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "supra/error.h"
#include "supra/tensor.h"

namespace supra {
namespace {

TEST(Tensor, DTypeSizesAndNames) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_size(DType::Bool), 1u);
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_name(DType::Bool), "BOOL");
}

TEST(Tensor, NumelAndShapeString) {
  TensorView v;
  v.shape = {2, 37, 512};
  EXPECT_EQ(v.numel(), 2 * 37 * 512);
  EXPECT_EQ(v.shape_string(), "[2, 37, 512]");
  v.shape = {};
  EXPECT_EQ(v.numel(), 1);
  EXPECT_EQ(v.shape_string(), "[]");
}

TEST(Tensor, BF16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808001u)), 0x3F81);  // above the tie
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80);  // overflows to inf
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(3.140625f)), 3.140625f);  // exact in bf16
}

TEST(Tensor, BF16KeepsNaN) {
  // A NaN whose payload is only in the low bits must not turn into infinity.
  const std::uint16_t b = f32_to_bf16(std::bit_cast<float>(0x7F800001u));
  EXPECT_TRUE(std::isnan(bf16_to_f32(b)));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::signbit(bf16_to_f32(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Tensor, F16ToF32) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  EXPECT_EQ(f16_to_f32(0x8000), 0.0f);
}

TEST(Tensor, ToF32HandlesUnalignedViews) {
  const std::uint16_t values[3] = {0x3F80, 0xC000, 0x4040};  // 1, -2, 3 in bf16
  std::byte buffer[1 + sizeof values];
  std::memcpy(buffer + 1, values, sizeof values);
  TensorView v;
  v.name = "w";
  v.dtype = DType::BF16;
  v.shape = {3};
  v.data = buffer + 1;
  v.nbytes = sizeof values;
  EXPECT_EQ(to_f32(v), (std::vector<float>{1.0f, -2.0f, 3.0f}));

  const double doubles[2] = {0.5, -4.0};
  v.dtype = DType::F64;
  v.shape = {2};
  v.data = reinterpret_cast<const std::byte*>(doubles);
  v.nbytes = sizeof doubles;
  EXPECT_EQ(to_f32(v), (std::vector<float>{0.5f, -4.0f}));
}

TEST(Tensor, ToI64) {
  const std::int32_t values[3] = {1, -7, 1 << 30};
  TensorView v;
  v.name = "ids";
  v.dtype = DType::I32;
  v.shape = {3};
  v.data = reinterpret_cast<const std::byte*>(values);
  v.nbytes = sizeof values;
  EXPECT_EQ(to_i64(v), (std::vector<std::int64_t>{1, -7, 1 << 30}));
  try {
    (void)to_f32(v);
    FAIL() << "to_f32 of an I32 view should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'ids'"), std::string::npos) << e.what();
  }
  v.dtype = DType::F32;
  EXPECT_THROW((void)to_i64(v), Error);
}

}  // namespace
}  // namespace supra
