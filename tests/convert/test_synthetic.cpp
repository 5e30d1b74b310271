// Synthetic models (convert/synthetic.h, supra/quantize.h): every named shape is a valid config, the weights have
// the config's shapes in the asked dtype, are deterministic per seed and bounded, and run
// through the Transformer with parallel and recurrent paths agreeing; written as a model
// folder (`supra quantize --synthetic`) they load back as the same model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "kernels/kernels.h"
#include "convert/quantize.h"
#include "convert/synthetic.h"
#include "model/transformer.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "supra/model.h"
#include "supra/quantize.h"
#include "test_support.h"

namespace supra {
namespace {

TEST(Synthetic, EveryNamedShapeIsAValidConfig) {
  for (const std::string& name : synthetic_names()) {
    const ModelConfig c = synthetic_config(name);
    EXPECT_NO_THROW(c.validate(name)) << name;
  }
  const ModelConfig m = synthetic_config("mistral-supra-7b");  // spec §7.1
  EXPECT_EQ(m.attention, AttentionKind::Linear);
  EXPECT_EQ(m.dim, 4096);
  EXPECT_EQ(m.ffn_dim, 14336);
  EXPECT_EQ(m.n_kv_heads, 8);
  EXPECT_EQ(synthetic_config("mistral-7b").attention, AttentionKind::Softmax);
}

TEST(Synthetic, UnknownNameListsTheKnownOnes) {
  try {
    synthetic_config("gpt-5");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mistral-supra-7b"), std::string::npos) << e.what();
  }
}

TEST(Synthetic, ShapesDtypesAndDeterminism) {
  const ModelConfig c = synthetic_config("tiny");
  for (DType dtype : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
    const SyntheticModel a = make_synthetic(c, dtype, SyntheticUse::File, 3), b = make_synthetic(c, dtype, SyntheticUse::File, 3),
                         other = make_synthetic(c, dtype, SyntheticUse::File, 4);
    const LayerWeights& l = a.weights.layers.at(1);
    EXPECT_EQ(a.weights.layers.size(), std::size_t(c.n_layers));
    EXPECT_EQ(l.w_gate.rows, c.ffn_dim);
    EXPECT_EQ(l.w_down.cols, c.ffn_dim);
    EXPECT_EQ(l.wk.rows, c.n_kv_heads * c.head_dim);
    EXPECT_EQ(l.feat_q.rows, c.n_heads * c.qk_dim);
    EXPECT_EQ(l.w_up.dtype, dtype);
    const std::size_t bytes = std::size_t(l.w_up.rows) * l.w_up.row_bytes();
    EXPECT_EQ(std::memcmp(l.w_up.data, b.weights.layers[1].w_up.data, bytes), 0) << dtype_name(dtype);
    EXPECT_NE(std::memcmp(l.w_up.data, other.weights.layers[1].w_up.data, bytes), 0) << dtype_name(dtype);
    // Decoded values are finite and within the documented bound a = 1/√fan_in (Q8_0 code −128
    // reaches 128/127 a, and the f16 block scale rounds).
    std::vector<float> row(static_cast<std::size_t>(l.w_up.cols));
    const double bound = 1.0 / std::sqrt(double(l.w_up.cols));
    for (std::int64_t r = 0; r < l.w_up.rows; ++r) {
      kernels::copy_row(row.data(), l.w_up, r);
      for (float v : row) {
        ASSERT_TRUE(std::isfinite(v));
        ASSERT_LE(std::fabs(v), bound * 1.01) << dtype_name(dtype);
      }
    }
  }
}

TEST(Synthetic, ParallelAndRecurrentAgree) {
  const ModelConfig c = synthetic_config("tiny");
  const SyntheticModel m = make_synthetic(c, DType::F32);
  const Transformer t(c, m.weights);
  std::vector<TokenId> ids;
  for (int i = 0; i < 21; ++i) ids.push_back((i * 37 + 5) % c.vocab_size);
  State parallel = t.new_state(), recurrent = t.new_state();
  const std::vector<float> want = t.run(ids, parallel, AttentionPath::Block, LogitsWanted::Last, {});
  std::vector<float> got;
  for (TokenId id : ids) got = t.run(std::span(&id, 1), recurrent, AttentionPath::Step, LogitsWanted::Last, {});
  ASSERT_EQ(got.size(), want.size());
  double max_ref = 0, max_err = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i]));
    max_ref = std::max(max_ref, std::fabs(double(want[i])));
    max_err = std::max(max_err, std::fabs(double(got[i]) - want[i]));
  }
  EXPECT_LE(max_err, 1e-4 * max_ref) << "max err " << max_err << " of " << max_ref;
}

std::vector<float> last_logits(const ModelConfig& c, const Weights& w) {
  const Transformer t(c, w);
  std::vector<TokenId> ids;
  for (int i = 0; i < 9; ++i) ids.push_back((i * 37 + 5) % c.vocab_size);
  State state = t.new_state();
  return t.run(ids, state, AttentionPath::Block, LogitsWanted::Last, {});
}

TEST(Synthetic, WrittenFolderLoadsAsTheSameModel) {
  test::TempDir dir;
  for (DType dtype : {DType::BF16, DType::Q4_0}) {
    const std::filesystem::path out = dir.path() / std::string(dtype_name(dtype));
    write_synthetic_model("tiny", out, dtype);
    const ModelConfig c = ModelConfig::load_folder(out);
    const Checkpoint checkpoint = Checkpoint::open_folder(out);
    const Weights w = bind_weights(checkpoint, c);
    const SyntheticModel m = make_synthetic(synthetic_config("tiny"), dtype);
    // The stored rows are the generated ones, byte for byte: the logits are identical.
    EXPECT_EQ(last_logits(c, w), last_logits(m.config, m.weights)) << dtype_name(dtype);
    EXPECT_EQ(w.layers.at(0).w_up.dtype, dtype);
    EXPECT_EQ(w.output.dtype, output_projection_type(dtype));
    EXPECT_EQ(m.weights.output.dtype, output_projection_type(dtype));
    GgufMetadata meta;
    open_gguf(out / "model.gguf", &meta);
    const GgufValue* tokens = gguf_find(meta, "tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    ASSERT_EQ(tokens->size(), std::size_t(c.vocab_size));
    EXPECT_EQ(tokens->strings[1], "<s>");
    EXPECT_EQ(tokens->strings[3], "<0x00>");
  }
  EXPECT_EQ(output_projection_type(DType::Q4_0), DType::Q8_0);
  EXPECT_EQ(output_projection_type(DType::BF16), DType::BF16);
  EXPECT_THROW(write_synthetic_model("tiny", dir.path() / std::string(dtype_name(DType::BF16)), DType::BF16), Error);
  EXPECT_THROW(write_synthetic_model("no-such-shape", dir.path() / "x", DType::BF16), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x"));
}

// The public way to a synthetic model in memory is the model the written folder loads as.
TEST(Synthetic, InMemoryModelEqualsTheWrittenFolder) {
  test::TempDir dir;
  for (DType dtype : {DType::BF16, DType::Q4_0}) {
    const std::filesystem::path out = dir.path() / std::string(dtype_name(dtype));
    write_synthetic_model("tiny", out, dtype);
    const Model loaded = Model::load(out);
    const Model made = make_synthetic_model("tiny", dtype);
    EXPECT_EQ(made.config().summary(), loaded.config().summary());
    EXPECT_NE(made.weights_description().find("synthetic tiny"), std::string::npos) << made.weights_description();
    const std::vector<TokenId> ids = {1, 7, 42, 9};
    State a = made.new_state(), b = loaded.new_state();
    EXPECT_EQ(made.forward(ids, a, Mode::Recurrent), loaded.forward(ids, b, Mode::Recurrent)) << dtype_name(dtype);
  }
  EXPECT_THROW(make_synthetic_model("no-such-shape", DType::BF16), Error);
}

TEST(SyntheticVocabulary, SpecialsBytesThenWords) {
  const GgufVocabulary v = synthetic_vocabulary(300);
  ASSERT_EQ(v.entries.size(), 300u);
  EXPECT_EQ(v.entries[0].kind, Tokenizer::PieceKind::Unknown);
  EXPECT_EQ(v.entries[2].piece, "</s>");
  EXPECT_EQ(v.entries[258].piece, "<0xFF>");
  EXPECT_EQ(v.entries[258].kind, Tokenizer::PieceKind::Byte);
  EXPECT_EQ(v.entries[299].piece, "\u2581w299");
  EXPECT_EQ(synthetic_vocabulary(10).entries.size(), 10u);
  EXPECT_THROW(synthetic_vocabulary(2), Error);
}

}  // namespace
}  // namespace supra
