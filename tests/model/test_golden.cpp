// The engine against the original PyTorch code: logits in all three modes, recurrent states,
// layer-0 intermediates and greedy continuations of the golden fixtures (spec §12).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "golden.h"
#include "supra/model.h"
#include "test_support.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;

constexpr double kF32Rel = 1e-5;   // fp32 vs fp32 goldens, relative to max |golden| (spec §6.8)
constexpr double kBf16Abs = 0.1;   // bf16 weights vs fp32 goldens, absolute on logits

// One model folder to test: a config of the fixtures with one of its weight files.
struct Variant {
  std::string config;   // supra_gqa, ...
  fs::path weights;     // the weights file to load
  bool bf16 = false;
  std::string label() const { return config + ":" + weights.parent_path().filename().string() + "/" +
                                     weights.filename().string(); }
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.label(); }

std::vector<Variant> variants(bool bf16) {
  const fs::path repo = data_dir() / "golden";
  std::vector<Variant> out;
  auto add = [&](const std::string& config, const fs::path& file, bool is_bf16) {
    if (is_bf16 == bf16 && fs::exists(file)) out.push_back({config, file, is_bf16});
  };
  for (const std::string c : {"supra_gqa", "supra_mha_qknorm", "supra_nope_wide", "mistral_softmax"}) {
    add(c, repo / c / "model.safetensors", false);
    add(c, repo / (c + "-bin") / "pytorch_model.bin", false);
    add(c, repo / (c + "-bf16") / "model.safetensors", true);
    add(c, repo / (c + "-bf16") / "pytorch_model.bin", true);
    // The rest of the fixture matrix lives beside the checkout (CI has it; see README).
    if (const auto shared = shared_dir()) {
      const fs::path g = *shared / "fixtures" / "golden";
      if (!fs::exists(repo / (c + "-bin"))) add(c, g / (c + "-bin") / "pytorch_model.bin", false);
      add(c, g / c / "pytorch_model.bin", false);
      if (!fs::exists(repo / (c + "-bf16"))) {
        add(c, g / (c + "-bf16") / "model.safetensors", true);
        add(c, g / (c + "-bf16") / "pytorch_model.bin", true);
      }
    }
  }
  return out;
}

// A folder holding the variant's config.json and only its weights file, so that loading
// exercises exactly that file format.
class VariantFolder {
 public:
  explicit VariantFolder(const Variant& v) {
    fs::create_symlink(fs::absolute(v.weights.parent_path() / "config.json"), dir_.path() / "config.json");
    fs::create_symlink(fs::absolute(v.weights), dir_.path() / v.weights.filename());
  }
  const fs::path& path() const { return dir_.path(); }

 private:
  TempDir dir_;
};

Golden golden_for(const Variant& v) { return Golden(data_dir() / "golden" / v.config); }

void expect_close(const std::vector<float>& got, const std::vector<float>& ref, double rel, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  const Diff d = compare(got, ref);
  EXPECT_LE(d.rel(), rel) << what << ": max abs " << d.max_abs << " at " << d.worst_index << " (got "
                          << got[d.worst_index] << ", want " << ref[d.worst_index] << "), max |ref| "
                          << d.ref_max_abs;
}

void expect_abs(const std::vector<float>& got, const std::vector<float>& ref, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  const Diff d = compare(got, ref);
  EXPECT_LE(d.max_abs, tol) << what << ": worst index " << d.worst_index;
}

// The reference's state layout is [H, dqk, dv] per batch row, as ours.
void expect_states(const Model& m, const State& s, const Golden& g, std::int64_t b, const std::string& what) {
  for (int i = 0; i < m.config().n_layers; ++i) {
    const std::string l = std::to_string(i);
    if (m.config().attention == AttentionKind::Linear) {
      expect_close(s.layers[i].matrix, g.batch_row("state_after_prompt.layer" + l, b), kF32Rel, what + " state " + l);
    } else {
      // Reference cache: [T, H, d] with kv heads repeated; ours: [T, Hkv·d].
      const auto& c = m.config();
      const std::int64_t T = s.position, H = c.n_heads, r = c.gqa_group();
      auto expand = [&](const std::vector<float>& x, std::int64_t d) {
        std::vector<float> y(static_cast<std::size_t>(T * H * d));
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t h = 0; h < H; ++h)
            for (std::int64_t e = 0; e < d; ++e) y[(t * H + h) * d + e] = x[(t * c.n_kv_heads + h / r) * d + e];
        return y;
      };
      expect_close(expand(s.layers[i].keys, c.qk_dim), g.batch_row("kv_after_prompt.layer" + l + ".k", b), kF32Rel,
                   what + " keys " + l);
      expect_close(expand(s.layers[i].values, c.v_dim), g.batch_row("kv_after_prompt.layer" + l + ".v", b), kF32Rel,
                   what + " values " + l);
    }
  }
}

class GoldenF32 : public ::testing::TestWithParam<Variant> {};
class GoldenBf16 : public ::testing::TestWithParam<Variant> {};

TEST_P(GoldenF32, LogitsAndStatesInEveryMode) {
  const Variant& v = GetParam();
  VariantFolder folder(v);
  const Model m = Model::load(folder.path());
  const Golden g = golden_for(v);
  for (std::int64_t b = 0; b < 2; ++b) {
    const auto ids = g.ids("input_ids_short", b);
    for (Mode mode : {Mode::Parallel, Mode::Recurrent, Mode::Hybrid}) {
      const std::string what = v.label() + " row " + std::to_string(b) + " " + std::string(mode_name(mode));
      State s = m.new_state();
      const auto logits = m.forward(ids, s, mode, LogitsWanted::All);
      expect_close(logits, g.batch_row("logits_parallel_short", b), kF32Rel, what + " vs parallel golden");
      expect_close(logits, g.batch_row("logits_cached_short", b), kF32Rel, what + " vs cached golden");
      EXPECT_EQ(s.position, static_cast<std::int64_t>(ids.size()));
      expect_states(m, s, g, b, what);
    }
  }
}

// The reference's cached calls follow a chunk schedule; run each chunk in parallel mode
// from the carried state, which exercises the block kernel starting from a non-zero state.
TEST_P(GoldenF32, ChunkScheduleFromCarriedState) {
  const Variant& v = GetParam();
  VariantFolder folder(v);
  const Model m = Model::load(folder.path());
  const Golden g = golden_for(v);
  const std::string suffix = g.has("input_ids_long") ? "long" : "short";
  const auto ids = g.ids("input_ids_" + suffix, 0);
  for (Mode mode : {Mode::Parallel, Mode::Hybrid}) {
    State s = m.new_state();
    std::vector<float> logits;
    std::size_t at = 0;
    for (int n : g.schedule(suffix + "_schedule")) {
      const auto part = m.forward(std::span(ids).subspan(at, static_cast<std::size_t>(n)), s, mode, LogitsWanted::All);
      logits.insert(logits.end(), part.begin(), part.end());
      at += static_cast<std::size_t>(n);
    }
    ASSERT_EQ(at, ids.size());
    expect_close(logits, g.batch_row("logits_cached_" + suffix, 0), kF32Rel, v.label() + " schedule");
    if (suffix == "long") {
      State p = m.new_state();
      expect_close(m.forward(ids, p, Mode::Parallel, LogitsWanted::All), g.batch_row("logits_parallel_long", 0),
                   kF32Rel, v.label() + " long parallel");
    }
  }
}

TEST_P(GoldenF32, LayerZeroIntermediates) {
  const Variant& v = GetParam();
  VariantFolder folder(v);
  const Model m = Model::load(folder.path());
  const Golden g = golden_for(v);
  const auto& c = m.config();
  for (std::int64_t b = 0; b < 2; ++b) {
    const auto ids = g.ids("input_ids_short", b);
    const std::int64_t T = static_cast<std::int64_t>(ids.size());
    std::map<std::string, std::vector<float>> seen;
    State s = m.new_state();
    m.forward(ids, s, Mode::Parallel, LogitsWanted::All,
              [&](const std::string& name, std::span<const float> x) { seen[name].assign(x.begin(), x.end()); });
    auto check = [&](const std::string& golden_name, const std::vector<float>& got) {
      if (!g.has(golden_name)) return;
      expect_close(got, g.batch_row(golden_name, b), kF32Rel, v.label() + " " + golden_name);
    };
    check("dbg.embed", seen["embed"]);
    check("dbg.l0.attn_norm_out", seen["l0.attn_norm_out"]);
    check("dbg.l0.attn_out", seen["l0.attn_out"]);
    check("dbg.final_norm_out", seen["final_norm_out"]);
    if (c.attention == AttentionKind::Linear) {
      const std::int64_t H = c.n_heads;
      for (const auto& [name, d] : std::vector<std::pair<std::string, int>>{
               {"q_feat", c.qk_dim}, {"k_feat", c.qk_dim}, {"v", c.v_dim}, {"attn_raw", c.v_dim}})
        expect_close(seen["l0." + name], heads_to_tokens(g.batch_row("dbg.l0." + name, b), H, T, d), kF32Rel,
                     v.label() + " dbg.l0." + name);
      check("dbg.l0.groupnorm_out", seen["l0.groupnorm_out"]);
    }
    // dbg.hidden_states is [L+1, B, T, D].
    const auto hidden = g.floats("dbg.hidden_states");
    const std::size_t per = static_cast<std::size_t>(T * c.dim);
    for (int i = 0; i <= c.n_layers; ++i) {
      const auto base = hidden.begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(i) * 2 + b) * per);
      const std::vector<float> ref(base, base + static_cast<std::ptrdiff_t>(per));
      expect_close(i == 0 ? seen["embed"] : seen["hidden." + std::to_string(i)], ref, kF32Rel,
                   v.label() + " hidden " + std::to_string(i));
    }
  }
}

// Greedy continuation, the way the reference produced it: argmax after each step, the
// prompt prefilled in the given mode, then one token per call (or the whole prefix again
// for parallel mode, like use_cache=False).
std::vector<TokenId> greedy(const Model& m, std::vector<TokenId> ids, Mode mode, int n) {
  std::vector<TokenId> out;
  State s = m.new_state();
  std::vector<float> logits = m.forward(ids, s, mode);
  for (int i = 0; i < n; ++i) {
    const TokenId next = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(next);
    ids.push_back(next);
    if (mode == Mode::Parallel) {
      s = m.new_state();
      logits = m.forward(ids, s, Mode::Parallel);
    } else {
      logits = m.forward(std::span(&next, 1), s, Mode::Recurrent);
    }
  }
  return out;
}

TEST_P(GoldenF32, GreedyTwentyTokensIdenticalInAllModes) {
  const Variant& v = GetParam();
  VariantFolder folder(v);
  const Model m = Model::load(folder.path());
  const Golden g = golden_for(v);
  const auto prompt = g.ids("greedy_prompt", 0);
  const auto want = g.ids("greedy_tokens_cached", 0);
  for (Mode mode : {Mode::Parallel, Mode::Recurrent, Mode::Hybrid})
    EXPECT_EQ(greedy(m, prompt, mode, 20), want) << v.label() << " " << mode_name(mode);
}

TEST_P(GoldenBf16, LogitsWithinBf16Tolerance) {
  const Variant& v = GetParam();
  VariantFolder folder(v);
  const Model m = Model::load(folder.path());
  const Golden g = golden_for(v);
  for (std::int64_t b = 0; b < 2; ++b) {
    const auto ids = g.ids("input_ids_short", b);
    for (Mode mode : {Mode::Parallel, Mode::Recurrent, Mode::Hybrid}) {
      State s = m.new_state();
      expect_abs(m.forward(ids, s, mode, LogitsWanted::All), g.batch_row("logits_parallel_short", b), kBf16Abs,
                 v.label() + " " + std::string(mode_name(mode)));
    }
  }
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  std::string s = info.param.label();
  std::replace_if(s.begin(), s.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
  return s;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenF32, ::testing::ValuesIn(variants(false)), variant_name);
INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenBf16, ::testing::ValuesIn(variants(true)), variant_name);

}  // namespace
}  // namespace supra::test
