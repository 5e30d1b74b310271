// Decay slopes and rotary frequencies against the values printed in spec §3.5-3.6.
#include <gtest/gtest.h>

#include <cmath>

#include "model/positional.h"

namespace supra::test {
namespace {

ModelConfig linear_config(int heads) {
  ModelConfig c;
  c.attention = AttentionKind::Linear;
  c.n_heads = heads;
  c.dim = heads * 8;
  c.head_dim = 8;
  return c;
}

TEST(DecaySlopes, LightningDefaults) {
  const auto s4 = decay_slopes(linear_config(4));
  EXPECT_FLOAT_EQ(s4[0], 0.25f);
  EXPECT_FLOAT_EQ(s4[3], 0.00390625f);
  const auto s8 = decay_slopes(linear_config(8));
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s8[h], std::ldexp(1.0f, -(h + 1)));
  const auto s32 = decay_slopes(linear_config(32));
  EXPECT_NEAR(s32[0], 0.840896428, 1e-7);
  EXPECT_FLOAT_EQ(s32[3], 0.5f);
  EXPECT_FLOAT_EQ(s32[31], 0.00390625f);
  // Max decay over the training context quoted by the paper: γ^2048 = 3.35e-4.
  EXPECT_NEAR(std::exp(-2048.0 * s32[31]), 3.35e-4, 1e-6);
}

TEST(DecaySlopes, Variants) {
  ModelConfig c = linear_config(4);
  c.retnet_slopes = true;
  EXPECT_NEAR(decay_slopes(c)[0], -std::log(1.0 - std::pow(2.0, -5.0)), 1e-7);
  c.retnet_slopes = false;
  c.decay_start = 0.5;
  EXPECT_FLOAT_EQ(decay_slopes(c)[1], 0.5f * 0.25f);
  c.use_decay = false;
  for (float s : decay_slopes(c)) EXPECT_EQ(s, 0.0f);
}

TEST(Rotary, InverseFrequencies) {
  ModelConfig c = linear_config(4);
  c.head_dim = 128;
  c.rope_base = 10000;
  const auto inv = rotary_inv_freq(c);
  ASSERT_EQ(inv.size(), 64u);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_NEAR(inv[63], 1.0 / std::pow(10000.0, 126.0 / 128.0), 1e-9);
}

}  // namespace
}  // namespace supra::test
