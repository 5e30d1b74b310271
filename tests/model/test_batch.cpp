// The batched forward (Model::forward(Batch&)) against the single-sequence forward: per
// sequence, bit for bit the same logits and the same State, with sequences of different lengths
// and depths, prompt chunks and decode tokens in one step, steps over and under the GEMM
// threshold, sequences joining and leaving between steps, on every SIMD target of this CPU; bad
// batches refused before any work. On every golden model and every stored weight type.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/simd.h"
#include "convert/quantize.h"
#include "supra/error.h"
#include "supra/model.h"
#include "test_support.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;

// A sequence of the test: a prompt read unbatched to some depth, then the spans it brings to
// the batched steps. `reference` follows it through the single-sequence forward.
struct Sequence {
  State state, reference;
};

std::vector<TokenId> ids(int n, int seed, int V) {
  std::vector<TokenId> out;
  for (int t = 0; t < n; ++t) out.push_back(static_cast<TokenId>((t * 37 + seed * 101 + 5) % V));
  return out;
}

Sequence prefilled(const Model& m, int depth, int seed) {
  Sequence s{m.new_state(), {}};
  if (depth > 0) m.forward(ids(depth, seed, m.config().vocab_size), s.state, Mode::Parallel, LogitsWanted::None);
  s.reference = s.state;
  return s;
}

// What the single-sequence forward does with the same span: recurrent for one token,
// parallel for more (the Batch's rule).
std::vector<float> single(const Model& m, std::span<const TokenId> span, State& state, LogitsWanted wanted) {
  return m.forward(span, state, span.size() == 1 ? Mode::Recurrent : Mode::Parallel, wanted);
}

// Bit for bit (tol 0), or within max|Δ| / max|ref| ≤ tol; the largest difference in the
// message when not.
void expect_close(std::span<const float> got, std::span<const float> ref, const std::string& what, double tol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  if (tol == 0)
    EXPECT_TRUE(std::ranges::equal(got, ref)) << what << ": max |Δ| " << compare(got, ref).max_abs;
  else
    EXPECT_LE(compare(got, ref).rel(), tol) << what;
}

void expect_same_state(const State& got, const State& ref, const std::string& what, double tol) {
  ASSERT_EQ(got.position, ref.position) << what;
  ASSERT_EQ(got.layers.size(), ref.layers.size()) << what;
  for (std::size_t l = 0; l < got.layers.size(); ++l) {
    expect_close(got.layers[l].matrix, ref.layers[l].matrix, what + " layer " + std::to_string(l) + " matrix", tol);
    expect_close(got.layers[l].keys, ref.layers[l].keys, what + " layer " + std::to_string(l) + " keys", tol);
    expect_close(got.layers[l].values, ref.layers[l].values, what + " layer " + std::to_string(l) + " values", tol);
  }
}

struct Entry {
  int sequence;
  int tokens;
  LogitsWanted wanted;
};

// Runs the steps (each a list of entries) batched, and every entry alone on the reference
// states; compares logits after every step and states at the end.
void check_steps(const Model& m, std::vector<Sequence>& seqs, const std::vector<std::vector<Entry>>& steps,
                 Batch::Rows rows, double tol) {
  const int V = m.config().vocab_size;
  Batch batch(rows);  // one Batch for every step: its memory is reused as sizes change
  int seed = 7;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    std::vector<std::vector<TokenId>> spans;
    for (const Entry& e : steps[k]) spans.push_back(ids(e.tokens, seed++, V));
    batch.clear();
    for (std::size_t i = 0; i < steps[k].size(); ++i)
      EXPECT_EQ(batch.add(spans[i], seqs[static_cast<std::size_t>(steps[k][i].sequence)].state, steps[k][i].wanted), i);
    m.forward(batch);
    for (std::size_t i = 0; i < steps[k].size(); ++i) {
      const Entry& e = steps[k][i];
      const std::vector<float> ref =
          single(m, spans[i], seqs[static_cast<std::size_t>(e.sequence)].reference, e.wanted);
      const std::span<const float> got = batch.logits(i);
      const std::string what = "step " + std::to_string(k) + " entry " + std::to_string(i);
      expect_close(got, ref, what, tol);
    }
  }
  for (std::size_t i = 0; i < seqs.size(); ++i)
    expect_same_state(seqs[i].state, seqs[i].reference, "sequence " + std::to_string(i), tol);
}

void check_model_on_this_target(const Model& m, Batch::Rows rows = Batch::Rows::Exact, double tol = 0) {
  // Four sequences at depths 0, 3, 70 (past a 64-token attention block) and 9.
  std::vector<Sequence> seqs;
  for (int depth : {0, 3, 70, 9}) seqs.push_back(prefilled(m, depth, depth));
  const auto All = LogitsWanted::All, Last = LogitsWanted::Last, None = LogitsWanted::None;
  check_steps(m, seqs,
              {
                  // A mixed step under the GEMM threshold: decode tokens beside prompt chunks.
                  {{0, 5, All}, {1, 1, Last}, {2, 1, Last}, {3, 2, Last}},
                  // Over it (29 rows), with a chunk crossing an attention block and one wanting nothing.
                  {{1, 1, Last}, {0, 20, Last}, {3, 1, All}, {2, 7, None}},
                  // Sequence 2 leaves, then comes back; a batch of one in between.
                  {{0, 1, Last}, {1, 1, Last}, {3, 1, Last}},
                  {{3, 1, Last}},
                  {{2, 1, Last}, {1, 3, All}, {0, 1, Last}, {3, 1, Last}},
              },
              rows, tol);
}

// On every SIMD target this CPU runs (forced, as the kernel tests do): the dot-product kernels
// of each must compute a row the same whatever rows share the pass.
void check_model(const Model& m) {
  for (const std::int64_t target : kernels::simd::available_targets()) {
    SCOPED_TRACE(kernels::simd::target_name(target));
    kernels::simd::force_target(target);
    check_model_on_this_target(m);
  }
  kernels::simd::force_target(0);
}

// A batch of one runs the very kernels of the single-sequence forward: bit-for-bit equal.
void check_batch_of_one_is_exact(const Model& m) {
  const int V = m.config().vocab_size;
  for (int tokens : {1, 5}) {
    Sequence s = prefilled(m, 4, tokens);
    const std::vector<TokenId> span = ids(tokens, 3, V);
    Batch batch;
    batch.add(span, s.state, LogitsWanted::All);
    m.forward(batch);
    const std::vector<float> ref = single(m, span, s.reference, LogitsWanted::All);
    const std::span<const float> got = batch.logits(0);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), ref.begin(), ref.end())) << tokens << " tokens";
    for (std::size_t l = 0; l < s.state.layers.size(); ++l) {
      EXPECT_EQ(s.state.layers[l].matrix, s.reference.layers[l].matrix) << tokens << " tokens";
      EXPECT_EQ(s.state.layers[l].keys, s.reference.layers[l].keys) << tokens << " tokens";
    }
  }
}

// Fused batches against the sequences alone: F32 weights differ by float rounding (the GEMM
// sums in another order); other types take the GEMM path with activations rounded to bf16 (on
// bf16 CPUs) where alone they take the dot products with float or int8 activations, which
// differ by up to ~1.4% on these tiny random models (measured).
double fused_tolerance(DType weights) { return weights == DType::F32 ? 1e-4 : 2e-2; }

class BatchGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchGolden, EqualsTheSingleSequenceForward) {
  const Model m = Model::load(data_dir() / "golden" / GetParam());
  check_model(m);
  check_batch_of_one_is_exact(m);
  check_model_on_this_target(m, Batch::Rows::Fused,
                             fused_tolerance(GetParam().ends_with("-bf16") ? DType::BF16 : DType::F32));
}

INSTANTIATE_TEST_SUITE_P(Models, BatchGolden,
                         ::testing::Values("supra_gqa", "supra_gqa-bf16", "supra_mha_qknorm", "supra_nope_wide",
                                           "mistral_softmax"));

class BatchDtype : public ::testing::TestWithParam<DType> {};

TEST_P(BatchDtype, EqualsTheSingleSequenceForward) {
  TempDir dir;
  write_synthetic_model("tiny", dir.path() / "model", GetParam());
  const Model m = Model::load(dir.path() / "model");
  check_model(m);
  check_batch_of_one_is_exact(m);
  check_model_on_this_target(m, Batch::Rows::Fused, fused_tolerance(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Types, BatchDtype, ::testing::Values(DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0),
                         [](const auto& type) { return std::string(dtype_name(type.param)); });

TEST(Batch, BadBatchesAreRefusedBeforeAnyWork) {
  const Model m = Model::load(data_dir() / "golden" / "supra_gqa");
  const int V = m.config().vocab_size;
  State a = m.new_state(), b = m.new_state();
  const std::vector<TokenId> good = {1, 2, 3}, bad = {1, V, 2};
  Batch batch;
  batch.add(good, a);
  batch.add(bad, b);
  EXPECT_THROW(m.forward(batch), Error);
  EXPECT_EQ(a.position, 0);  // the good entry did not run either
  EXPECT_THROW(batch.logits(0), Error);

  batch.clear();
  batch.add(good, a);
  batch.add(good, a);  // the same state twice
  EXPECT_THROW(m.forward(batch), Error);
  EXPECT_EQ(a.position, 0);

  State foreign;  // no layers: not a state of this model
  batch.clear();
  batch.add(good, foreign);
  EXPECT_THROW(m.forward(batch), Error);

  batch.clear();
  batch.add(good, a);
  m.forward(batch);
  EXPECT_EQ(a.position, 3);
  EXPECT_EQ(batch.logits(0).size(), static_cast<std::size_t>(V));
  EXPECT_THROW(batch.logits(1), Error);
  batch.clear();
  EXPECT_TRUE(batch.empty());
  m.forward(batch);  // an empty batch is no work
}

// A state of another model with the same depth (here: 4 query heads sharing 2 kv heads vs 4
// of each, and the softmax teacher's KV cache) or a damaged one is refused by both forward
// calls before any work: it would be read and written out of bounds.
TEST(Batch, StatesOfOtherModelsOrOfWrongSizesAreRefused) {
  const Model gqa = Model::load(data_dir() / "golden" / "supra_gqa");
  const Model mha = Model::load(data_dir() / "golden" / "supra_mha_qknorm");
  const Model teacher = Model::load(data_dir() / "golden" / "mistral_softmax");
  const std::vector<TokenId> ids = {1, 2, 3};
  std::vector<State> wrong = {mha.new_state(), teacher.new_state()};
  State short_matrix = gqa.new_state();
  short_matrix.layers[2].matrix.pop_back();
  wrong.push_back(short_matrix);
  State negative = gqa.new_state();
  negative.position = -1;
  wrong.push_back(negative);
  for (State& s : wrong) {
    const State before = s;
    EXPECT_THROW(gqa.forward(ids, s, Mode::Recurrent), Error);
    Batch batch;
    batch.add(ids, s);
    EXPECT_THROW(gqa.forward(batch), Error);
    EXPECT_EQ(s.position, before.position);
  }
  // The teacher's KV cache must hold `position` rows.
  State cache = teacher.new_state();
  teacher.forward(ids, cache, Mode::Parallel);
  cache.position = 5;
  EXPECT_THROW(teacher.forward(ids, cache, Mode::Parallel), Error);
  cache.position = 3;
  EXPECT_NO_THROW(teacher.forward(ids, cache, Mode::Parallel));
}

TEST(Batch, EmptySpanIsNoWork) {
  const Model m = Model::load(data_dir() / "golden" / "supra_gqa");
  State a = m.new_state(), b = m.new_state();
  const std::vector<TokenId> none, two = {4, 5};
  Batch batch;
  batch.add(none, a);
  batch.add(two, b, LogitsWanted::All);
  m.forward(batch);
  EXPECT_EQ(a.position, 0);
  EXPECT_TRUE(batch.logits(0).empty());
  EXPECT_EQ(batch.logits(1).size(), static_cast<std::size_t>(2 * m.config().vocab_size));
}

}  // namespace
}  // namespace supra::test
