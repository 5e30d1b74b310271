// GGUF models: a llama.cpp-converted file reads back to the same logits, supra's own export is
// lossless in F32 and close in BF16 / Q8_0 / Q4_0 in every mode, the rotary permutation is a
// bijection, and the fallback types and architecture checks hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"
#include "convert/quantize.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "supra/model.h"
#include "test_support.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;

fs::path stories() { return data_dir().parent_path().parent_path() / "models" / "stories260K"; }
fs::path golden(const std::string& name) { return data_dir() / "golden" / name; }

const std::vector<TokenId> kIds = {1, 403, 407, 261, 378, 10, 300, 200, 17, 45, 99, 310, 2, 77, 5, 250};

std::vector<float> logits(const fs::path& folder, Mode mode) {
  const Model m = Model::load(folder);
  State s = m.new_state();
  return m.forward(kIds, s, mode, LogitsWanted::All);
}

double rel_error(const fs::path& a, const fs::path& b, Mode mode) { return compare(logits(a, mode), logits(b, mode)).rel(); }

constexpr Mode kModes[] = {Mode::Parallel, Mode::Recurrent, Mode::Hybrid};

TEST(GgufModel, ReadsTheLlamaCppConvertedStoriesExactly) {
  const auto shared = shared_dir();
  const fs::path ref = shared ? *shared / "assets/models/stories260K/stories260K.gguf" : fs::path();
  if (!shared || !fs::exists(ref)) GTEST_SKIP() << "shared stories260K.gguf not present";
  TempDir dir;
  for (const char* f : {"config.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"})
    fs::copy_file(stories() / f, dir.path() / f);
  fs::copy_file(ref, dir.path() / "model.gguf");
  // llama.cpp's convert_hf_to_gguf permuted q/k and renamed everything: reading it back through
  // supra's table must give the safetensors model exactly.
  EXPECT_EQ(rel_error(dir.path(), stories(), Mode::Parallel), 0.0);
}

struct Case {
  const char* model;
  double bf16, q8, q4;  // bounds on max|Δlogit| / max|logit|
};

TEST(GgufModel, QuantizedLogitsStayCloseInEveryMode) {
  // Tiny models (dim 64-128, random golden weights) are far harsher on 4 bits than real ones;
  // the bounds are about 2x what these models show (docs/PERFORMANCE.md has perplexities).
  // Measured (all modes alike): bf16 0.004-0.008, q8 0.013-0.024, q4 0.21-0.44.
  const Case cases[] = {{"supra_gqa", 0.015, 0.045, 0.75},
                        {"supra_mha_qknorm", 0.015, 0.035, 0.5},
                        {"supra_nope_wide", 0.015, 0.035, 0.45},
                        {"mistral_softmax", 0.015, 0.05, 0.85},
                        {"", 0.01, 0.03, 0.5}};  // stories260K (tied, HF, rows of 172)
  for (const Case& c : cases) {
    const fs::path src = *c.model ? golden(c.model) : stories();
    TempDir dir;
    for (const char* type : {"f32", "bf16", "q8", "q4"}) {
      const DType t = std::string(type) == "f32" ? DType::F32 : std::string(type) == "bf16" ? DType::BF16
                      : std::string(type) == "q8" ? DType::Q8_0 : DType::Q4_0;
      quantize_model(src, dir.path() / type, t);
    }
    // Logits of every mode, each model loaded once.
    auto all_modes = [](const fs::path& folder) {
      const Model m = Model::load(folder);
      std::vector<std::vector<float>> out;
      for (Mode mode : kModes) {
        State s = m.new_state();
        out.push_back(m.forward(kIds, s, mode, LogitsWanted::All));
      }
      return out;
    };
    const auto ref = all_modes(src), f32 = all_modes(dir.path() / "f32"), bf16 = all_modes(dir.path() / "bf16"),
               q8 = all_modes(dir.path() / "q8"), q4 = all_modes(dir.path() / "q4");
    for (std::size_t i = 0; i < std::size(kModes); ++i) {
      const std::string what = src.filename().string() + " " + std::string(mode_name(kModes[i]));
      EXPECT_LE(compare(f32[i], ref[i]).rel(), 1e-6) << what;
      EXPECT_LE(compare(bf16[i], ref[i]).rel(), c.bf16) << what;
      const double e8 = compare(q8[i], ref[i]).rel(), e4 = compare(q4[i], ref[i]).rel();
      EXPECT_LE(e8, c.q8) << what;
      EXPECT_LE(e4, c.q4) << what;
      EXPECT_LT(e8, e4) << what;
      EXPECT_GT(e8, 0.0) << what << ": the q8 model must not be the f32 one";
    }
  }
}

// A loaded Q8_0/Q4_0 model runs on matrices in the CPU's decode layout (interleave_for_decode:
// Lanes16 on AVX-512 VNNI, Q4_0 Interleaved8 elsewhere). Each must multiply like the file's
// plain matrix: to float rounding in decode (where whole-model logits would amplify a rounding
// flip of the quantized activations), exactly over spans (the GEMM decodes every layout to the
// same floats).
TEST(GgufModel, DecodeLayoutsRunLikeThePlainLayout) {
  for (DType dtype : {DType::Q8_0, DType::Q4_0})
    for (const char* model : {"supra_gqa", "mistral_softmax"}) {
      const std::string what = std::string(model) + " " + std::string(dtype_name(dtype));
      TempDir dir;
      const fs::path folder = dir.path() / "quantized";
      quantize_model(golden(model), folder, dtype);
      const ModelConfig config = ModelConfig::load_folder(folder);
      const Checkpoint checkpoint = Checkpoint::open_folder(folder);
      const Weights plain = bind_weights(checkpoint, config);
      const Weights packed = bind_for_inference(checkpoint, config);
      std::vector<std::pair<kernels::Matrix, kernels::Matrix>> pairs = {{plain.output, packed.output}};
      for (std::size_t l = 0; l < plain.layers.size(); ++l) {
        const LayerWeights &p = plain.layers[l], &q = packed.layers[l];
        pairs.insert(pairs.end(), {{p.wq, q.wq}, {p.wk, q.wk}, {p.wv, q.wv}, {p.wo, q.wo}, {p.w_gate, q.w_gate},
                                   {p.w_up, q.w_up}, {p.w_down, q.w_down}, {p.feat_q, q.feat_q}, {p.feat_k, q.feat_k}});
      }
      int laid_out = 0, expected = 0;
      for (const auto& [p, q] : pairs) {
        if (p.empty()) continue;
        EXPECT_EQ(q.layout, kernels::decode_layout(p)) << what;
        laid_out += q.layout != kernels::Layout::Plain;
        expected += kernels::decode_layout(p) != kernels::Layout::Plain;
        std::vector<float> x(static_cast<std::size_t>(p.cols)), y_plain(static_cast<std::size_t>(p.rows)), y(y_plain);
        for (std::size_t c = 0; c < x.size(); ++c) x[c] = std::sin(0.37f * static_cast<float>(c));
        kernels::matmul(y_plain.data(), x.data(), p, 1);
        kernels::matmul(y.data(), x.data(), q, 1);
        EXPECT_LE(compare(y, y_plain).rel(), 1e-6) << what << " matrix of " << p.rows << " rows";
      }
      EXPECT_EQ(laid_out, expected) << what;
      if (dtype == DType::Q4_0) {
        EXPECT_GE(laid_out, 7 * static_cast<int>(plain.layers.size())) << what;
      }
      const Transformer a(config, plain), b(config, packed);
      State sa = a.new_state(), sb = b.new_state();
      // A prompt long enough for the GEMM path, which decodes every layout to the same panels.
      // (Shorter spans run the integer dot products, checked matrix by matrix above: the kernels
      // of each layout sum blocks in another order, and a last-bit difference upstream can move
      // an activation across an int8 rounding boundary, so whole models differ slightly.)
      std::vector<TokenId> prompt;
      while (static_cast<std::int64_t>(prompt.size()) < kernels::kQuantGemmMinTokens)
        prompt.insert(prompt.end(), kIds.begin(), kIds.end());
      EXPECT_EQ(a.run(prompt, sa, AttentionPath::Block, LogitsWanted::All, {}),
                b.run(prompt, sb, AttentionPath::Block, LogitsWanted::All, {}))
          << what;
    }
}

TEST(GgufModel, RotaryPermutationIsLlamaCppsAndInvertible) {
  // One head of 8 rows: HF pairs (0,4) (1,5) (2,6) (3,7) become adjacent.
  const std::int64_t expected[] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (std::int64_t r = 0; r < 8; ++r) EXPECT_EQ(rope_stored_row(r, 8, 1), expected[r]);
  for (auto [rows, heads] : {std::pair{64, 8}, {96, 3}, {32, 4}})
    for (std::int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(rope_hf_row(rope_stored_row(r, rows, heads), rows, heads), r);
      EXPECT_EQ(rope_stored_row(r, rows, heads) / (rows / heads), r / (rows / heads));  // stays in its head
    }
}

TEST(GgufModel, FallbackTypesAndTheStoredLayout) {
  TempDir dir;
  quantize_model(stories(), dir.path() / "q8", DType::Q8_0);
  const Checkpoint gguf = Checkpoint::open_folder(dir.path() / "q8");
  EXPECT_EQ(gguf.metadata("general.architecture"), "llama");
  EXPECT_EQ(gguf.metadata("general.file_type"), "7");
  EXPECT_EQ(gguf.metadata("llama.block_count"), "5");
  EXPECT_EQ(gguf.metadata("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(gguf.get("blk.0.attn_q.weight").dtype, DType::Q8_0);
  EXPECT_EQ(gguf.get("token_embd.weight").dtype, DType::Q8_0);
  EXPECT_EQ(gguf.get("blk.0.ffn_down.weight").dtype, DType::BF16);  // rows of 172: not whole blocks
  EXPECT_EQ(gguf.get("blk.0.attn_norm.weight").dtype, DType::F32);
  EXPECT_FALSE(gguf.has("output.weight"));  // tied

  // F32 export: stored q row s is HF row rope_hf_row(s).
  quantize_model(stories(), dir.path() / "f32", DType::F32);
  const Checkpoint f32 = Checkpoint::open_folder(dir.path() / "f32");
  const Checkpoint hf = Checkpoint::open_folder(stories());
  const auto stored = to_f32(f32.get("blk.1.attn_k.weight"));
  const auto original = to_f32(hf.get("model.layers.1.self_attn.k_proj.weight"));
  ASSERT_EQ(stored.size(), original.size());
  for (std::int64_t s = 0; s < 32; ++s)
    for (std::int64_t c = 0; c < 64; ++c)
      ASSERT_EQ(stored[s * 64 + c], original[rope_hf_row(s, 32, 4) * 64 + c]) << s;

  quantize_model(golden("supra_mha_qknorm"), dir.path() / "supra", DType::Q4_0);
  const Checkpoint supra = Checkpoint::open_folder(dir.path() / "supra");
  EXPECT_EQ(supra.metadata("general.architecture"), "supra");
  EXPECT_EQ(supra.metadata("supra.v_head_dim"), "48");
  EXPECT_EQ(supra.metadata("supra.apply_qk_norm"), "true");
  EXPECT_EQ(supra.get("blk.3.attn_feat_q.weight").dtype, DType::Q4_0);
  EXPECT_EQ(supra.get("blk.3.attn_feat_q.bias").dtype, DType::F32);
  EXPECT_TRUE(supra.has("blk.3.attn_k_norm.weight"));
  EXPECT_FALSE(supra.has("blk.3.attn_feat_k.weight"));  // H == Hkv: one kernel
}

TEST(GgufModel, ATorchBinInputGivesTheSameModel) {
  TempDir dir;
  quantize_model(golden("supra_gqa-bin"), dir.path() / "from-bin", DType::F32);
  EXPECT_EQ(rel_error(dir.path() / "from-bin", golden("supra_gqa"), Mode::Recurrent), 0.0);
}

TEST(GgufModel, MismatchesAreErrors) {
  TempDir dir;
  quantize_model(golden("supra_gqa"), dir.path() / "q8", DType::Q8_0);
  EXPECT_THROW(quantize_model(golden("supra_gqa"), dir.path() / "q8", DType::Q8_0), Error);  // exists
  EXPECT_THROW(quantize_model(golden("supra_gqa"), dir.path() / "x", DType::I32), Error);
  EXPECT_FALSE(fs::exists(dir.path() / "x"));
  // A SUPRA file under the softmax teacher's config.
  fs::copy_file(golden("mistral_softmax") / "config.json", dir.path() / "q8" / "config.json",
                fs::copy_options::overwrite_existing);
  try {
    Model::load(dir.path() / "q8");
    ADD_FAILURE() << "loaded a supra GGUF as a llama model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("general.architecture is \"supra\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace supra::test
