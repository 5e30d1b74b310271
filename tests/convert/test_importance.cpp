// Importance matrices: what is collected equals the squared activations the model's trace shows,
// windows and counts follow llama.cpp's imatrix, files round-trip and bad files are errors, and
// quantize_model uses one (provenance keys in the GGUF, Q4_0 scales that differ).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <filesystem>

#include "../io/expect_error.h"
#include "io/gguf.h"
#include "supra/quantize.h"
#include "convert/quantize.h"
#include "supra/checkpoint.h"
#include "supra/model.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;

fs::path golden(const std::string& name) { return data_dir() / "golden" / name; }
fs::path stories() { return data_dir().parent_path().parent_path() / "models" / "stories260K"; }

std::vector<TokenId> some_tokens(std::size_t n) {
  std::vector<TokenId> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<TokenId>((i * 37 + 11) % 500);
  return ids;
}

// Σ over rows of each column's square, for a traced [rows, cols] activation.
std::vector<double> column_sum2(std::span<const float> values, std::size_t cols) {
  std::vector<double> sum(cols, 0.0);
  for (std::size_t i = 0; i < values.size(); ++i) sum[i % cols] += double(values[i]) * values[i];
  return sum;
}

void expect_sums(const ImportanceEntry& e, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(e.sum2.size(), want.size()) << what;
  for (std::size_t j = 0; j < want.size(); ++j)
    ASSERT_NEAR(e.sum2[j], want[j], 1e-9 * (1 + want[j])) << what << " column " << j;
}

TEST(Importance, SumsTheSquaredInputsTheTraceShows) {
  const fs::path model_dir = golden("supra_gqa");
  const std::vector<TokenId> ids = some_tokens(24);
  // One window holding every token, no BOS replacement: the same pass as the traced forward.
  const ImportanceMatrix im = collect_importance(model_dir, ids, 64, -1, 0);
  EXPECT_EQ(im.chunks, 1);
  EXPECT_EQ(im.chunk_size, 24);

  const Model model = Model::load(model_dir);
  std::map<std::string, std::vector<float>> trace;
  State state = model.new_state();
  model.forward(ids, state, Mode::Parallel, LogitsWanted::All,
                [&](const std::string& name, std::span<const float> v) { trace[name].assign(v.begin(), v.end()); });
  const auto& c = model.config();
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".", l = "l" + std::to_string(i) + ".";
    const std::vector<double> attn_in = column_sum2(trace.at(l + "attn_norm_out"), std::size_t(c.dim));
    for (const char* m : {"attn_q", "attn_k", "attn_v"}) expect_sums(im.entries.at(blk + m + ".weight"), attn_in, m);
    expect_sums(im.entries.at(blk + "attn_output.weight"),
                column_sum2(trace.at(l + "groupnorm_out"), std::size_t(c.n_heads * c.v_dim)), "attn_output");
  }
  expect_sums(im.entries.at("output.weight"), column_sum2(trace.at("final_norm_out"), std::size_t(c.dim)), "output");
  // Every matrix of the GGUF layout saw every token once.
  EXPECT_EQ(im.entries.size(), std::size_t(4 * 9 + 2));  // 9 per layer (GQA: separate feat_k), embd + output
  for (const auto& [name, e] : im.entries) {
    if (name != "token_embd.weight") {
      EXPECT_EQ(e.count, 24) << name;
    }
  }
  EXPECT_EQ(im.entries.at("token_embd.weight").count, 0);  // a lookup, not a product
}

TEST(Importance, MatchesLlamaCppsImatrixOnTheSameTextAndModel) {
  // tests/data/imatrix: llama.cpp's llama-imatrix over the same text, windows and weights (see
  // SOURCES.md). Same windows and row counts; per-column means agree to float rounding of two
  // different forward passes (measured: at most 8e-4 relative). llama.cpp does not collect the
  // output projection by default; supra does (token_embd here, tied).
  const fs::path dir = data_dir() / "imatrix";
  const std::string text = read_file(dir / "shakespeare-20k.txt");
  const Tokenizer tokenizer = Tokenizer::load_folder(stories());
  const std::vector<TokenId> ids = tokenizer.encode(text);  // BOS first, as llama.cpp
  const ImportanceMatrix ours = collect_importance(stories(), ids, 128, tokenizer.bos_id(), 0);
  const ImportanceMatrix ref = read_importance(dir / "llama-imatrix-stories260K.gguf");
  EXPECT_EQ(ours.chunks, ref.chunks);
  EXPECT_EQ(ours.chunk_size, ref.chunk_size);
  ASSERT_EQ(ref.entries.size(), 35u);
  for (const auto& [name, want] : ref.entries) {
    const ImportanceEntry& got = ours.entries.at(name);
    ASSERT_EQ(got.count, want.count) << name;
    ASSERT_EQ(got.sum2.size(), want.sum2.size()) << name;
    for (std::size_t j = 0; j < want.sum2.size(); ++j)
      ASSERT_NEAR(got.sum2[j], want.sum2[j], 5e-3 * want.sum2[j] + 1e-6 * double(want.count)) << name << " column " << j;
  }
}

TEST(Importance, WindowsAreCutAndCappedLikeLlamaCpp) {
  const std::vector<TokenId> ids = some_tokens(10);
  const ImportanceMatrix two = collect_importance(golden("supra_gqa"), ids, 4, 1, 0);  // 2 windows, 2 left over
  EXPECT_EQ(two.chunks, 2);
  EXPECT_EQ(two.entries.at("blk.0.ffn_down.weight").count, 8);
  const ImportanceMatrix one = collect_importance(golden("supra_gqa"), ids, 4, 1, 1);
  EXPECT_EQ(one.chunks, 1);
  EXPECT_EQ(one.entries.at("blk.0.ffn_down.weight").count, 4);
  // A shared feature map (H == Hkv) sees the query rows and the key rows.
  const ImportanceMatrix mha = collect_importance(golden("supra_mha_qknorm"), ids, 4, 1, 0);
  EXPECT_EQ(mha.entries.count("blk.0.attn_feat_k.weight"), 0u);
  EXPECT_EQ(mha.entries.at("blk.0.attn_feat_q.weight").count, 16);
  // Tied embeddings: the output projection's inputs land on token_embd (the file's output).
  const ImportanceMatrix tied = collect_importance(stories(), ids, 4, 1, 0);
  EXPECT_EQ(tied.entries.count("output.weight"), 0u);
  EXPECT_EQ(tied.entries.at("token_embd.weight").count, 8);

  EXPECT_SUPRA_ERROR(collect_importance(golden("supra_gqa"), some_tokens(1), 4, 1, 0), "too few");
  EXPECT_SUPRA_ERROR(collect_importance(golden("supra_gqa"), ids, 1, 1, 0), "at least 2");
  EXPECT_SUPRA_ERROR(collect_importance(golden("supra_gqa"), std::vector<TokenId>{1, 9999}, 4, 1, 0), "out of range");
}

TEST(Importance, FilesRoundTripAndBadFilesAreErrors) {
  TempDir dir;
  ImportanceMatrix im = collect_importance(golden("supra_gqa"), some_tokens(12), 6, 1, 0);
  im.datasets = {"calibration.txt"};
  write_importance(dir.path() / "im.gguf", im);
  const ImportanceMatrix back = read_importance(dir.path() / "im.gguf");
  EXPECT_EQ(back.datasets, im.datasets);
  EXPECT_EQ(back.chunks, 2);
  EXPECT_EQ(back.chunk_size, 6);
  ASSERT_EQ(back.entries.size(), im.entries.size());
  for (const auto& [name, e] : im.entries) {
    const ImportanceEntry& b = back.entries.at(name);
    EXPECT_EQ(b.count, e.count) << name;
    for (std::size_t j = 0; j < e.sum2.size(); ++j) ASSERT_FLOAT_EQ(float(b.sum2[j]), float(e.sum2[j])) << name;
  }

  // Mean squares, floored at a thousandth of the average; a width that disagrees is an error.
  const std::vector<float> w = back.column_weights("blk.0.attn_q.weight", 128);
  ASSERT_EQ(w.size(), 128u);
  for (float v : w) EXPECT_GT(v, 0.0f);
  EXPECT_TRUE(back.column_weights("blk.9.attn_q.weight", 128).empty());
  EXPECT_TRUE(back.column_weights("token_embd.weight", 128).empty());  // never saw a row
  EXPECT_SUPRA_ERROR(back.column_weights("blk.0.attn_q.weight", 64), "columns");

  // A model file is not an importance matrix.
  EXPECT_SUPRA_ERROR(read_importance(dir.path() / "absent.gguf"), "absent.gguf");
  const auto write = [&](const std::string& name, const std::vector<GgufTensorInfo>& infos, float value) {
    GgufMetadata meta;
    meta.emplace_back("general.type", GgufValue::string("imatrix"));
    write_gguf(dir.path() / name, meta, infos, [&](std::size_t i) {
      std::vector<float> v(static_cast<std::size_t>(infos[i].shape.back() * infos[i].shape.front()), value);
      std::vector<std::byte> bytes(v.size() * sizeof(float));
      std::memcpy(bytes.data(), v.data(), bytes.size());
      return bytes;
    });
    return dir.path() / name;
  };
  EXPECT_SUPRA_ERROR(read_importance(write("no-counts.gguf", {{"a.weight.in_sum2", DType::F32, {1, 8}}}, 1)),
                     "no a.weight.counts");
  EXPECT_SUPRA_ERROR(
      read_importance(write("negative.gguf",
                            {{"a.weight.in_sum2", DType::F32, {1, 8}}, {"a.weight.counts", DType::F32, {1, 1}}}, -1)),
      "negative");
  EXPECT_SUPRA_ERROR(
      read_importance(write("experts.gguf",
                            {{"a.weight.in_sum2", DType::F32, {2, 8}}, {"a.weight.counts", DType::F32, {1, 2}}}, 1)),
      "single-matrix");
  EXPECT_SUPRA_ERROR(read_importance(write("other.gguf", {{"a.weight", DType::F32, {1, 8}}}, 1)), "unexpected tensor");
  {
    GgufMetadata meta;
    meta.emplace_back("general.type", GgufValue::string("model"));
    write_gguf(dir.path() / "model.gguf", meta, {}, [](std::size_t) { return std::vector<std::byte>{}; });
  }
  EXPECT_SUPRA_ERROR(read_importance(dir.path() / "model.gguf"), "not an importance matrix");
}

TEST(Importance, QuantizeRecordsItAndFitsDifferentScales) {
  TempDir dir;
  ImportanceMatrix im = collect_importance(golden("supra_gqa"), some_tokens(40), 20, 1, 0);
  im.datasets = {"calibration.txt"};
  write_importance(dir.path() / "im.gguf", im);
  quantize_model(golden("supra_gqa"), dir.path() / "plain", DType::Q4_0);
  quantize_model(golden("supra_gqa"), dir.path() / "imatrix", DType::Q4_0, dir.path() / "im.gguf");
  GgufMetadata meta;
  const TensorFile with = open_gguf(dir.path() / "imatrix" / "model.gguf", &meta);
  const TensorFile without = open_gguf(dir.path() / "plain" / "model.gguf");
  const GgufValue* file = gguf_find(meta, "quantize.imatrix.file");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->strings.at(0), (dir.path() / "im.gguf").string());
  EXPECT_EQ(gguf_find(meta, "quantize.imatrix.dataset")->strings.at(0), "calibration.txt");
  EXPECT_EQ(gguf_find(meta, "quantize.imatrix.chunks_count")->ints.at(0), 2);
  // Same layout and types, other scales: the Q4_0 matrices differ, the rest is identical.
  const TensorView* a = with.find("blk.0.attn_q.weight");
  const TensorView* b = without.find("blk.0.attn_q.weight");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->dtype, DType::Q4_0);
  EXPECT_NE(std::memcmp(a->data, b->data, a->nbytes), 0);
  const TensorView* na = with.find("blk.0.attn_norm.weight");
  const TensorView* nb = without.find("blk.0.attn_norm.weight");
  EXPECT_EQ(std::memcmp(na->data, nb->data, na->nbytes), 0);
  // The model loads and runs.
  const Model m = Model::load(dir.path() / "imatrix");
  State s = m.new_state();
  const std::vector<float> logits = m.forward(some_tokens(5), s, Mode::Parallel);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  // An importance matrix of another model is refused by name and width.
  EXPECT_SUPRA_ERROR(quantize_model(stories(), dir.path() / "other", DType::Q4_0, dir.path() / "im.gguf"), "columns");
  EXPECT_FALSE(fs::exists(dir.path() / "other"));
}

}  // namespace
}  // namespace supra::test
