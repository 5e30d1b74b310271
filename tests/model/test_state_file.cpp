// State files (supra/state_file.h) for the golden models of both attention kinds: what is written
// reads back equal, and each kind of damage or mismatch is refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "supra/model.h"
#include "supra/state_file.h"
#include "file_builders.h"
#include "test_support.h"

namespace supra {
namespace {

// A state after three tokens, with the logits it predicts next.
SavedState run_three_tokens(const Model& model) {
  SavedState s{model.new_state(), {1, 5, 9}, {}};
  s.logits = model.forward(s.tokens, s.state, Mode::Recurrent, LogitsWanted::Last);
  return s;
}

std::string decode_error(const StateCodec& codec, const std::string& bytes) {
  try {
    codec.decode(bytes);
  } catch (const InvalidStateFile& e) {
    return e.what();
  }
  return "";
}

// The CRC-32 the format ends with, recomputed after an edit so that only the edit is wrong.
void reseal(std::string& bytes) {
  const std::uint32_t crc = test::crc32(bytes.substr(0, bytes.size() - 4));
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

class StateFileTest : public ::testing::TestWithParam<const char*> {};

TEST_P(StateFileTest, RoundTripsExactlyAndContinuesTheSame) {
  const Model model = Model::load(test::model_folder(GetParam()));
  const StateCodec codec(model);
  const SavedState s = run_three_tokens(model);
  SavedState back = codec.decode(codec.encode(s));
  EXPECT_EQ(back.tokens, s.tokens);
  EXPECT_EQ(back.logits, s.logits);
  ASSERT_EQ(back.state.layers.size(), s.state.layers.size());
  EXPECT_EQ(back.state.position, 3);
  for (std::size_t i = 0; i < s.state.layers.size(); ++i) {
    EXPECT_EQ(back.state.layers[i].matrix, s.state.layers[i].matrix);
    EXPECT_EQ(back.state.layers[i].keys, s.state.layers[i].keys);
    EXPECT_EQ(back.state.layers[i].values, s.state.layers[i].values);
  }
  State original = s.state;
  const std::vector<TokenId> next = {7};
  EXPECT_EQ(model.forward(next, back.state, Mode::Recurrent, LogitsWanted::Last),
            model.forward(next, original, Mode::Recurrent, LogitsWanted::Last));
}

TEST_P(StateFileTest, SavesAtomicallyAndLoadsWithThePathInErrors) {
  const Model model = Model::load(test::model_folder(GetParam()));
  const StateCodec codec(model);
  const SavedState s = run_three_tokens(model);
  test::TempDir dir;
  const auto path = dir.path() / "a.state";
  codec.save(path, s);
  EXPECT_EQ(codec.load(path).tokens, s.tokens);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);  // no temp file left
  test::write_file(path, "not a state");
  try {
    codec.load(path);
    ADD_FAILURE() << "a damaged file loaded";
  } catch (const InvalidStateFile& e) {
    EXPECT_EQ(std::string(e.what()), path.string() + ": invalid state file: shorter than the header");
  }
  EXPECT_THROW(codec.load(dir.path() / "missing.state"), Error);
}

TEST_P(StateFileTest, EveryDamageIsNamed) {
  const Model model = Model::load(test::model_folder(GetParam()));
  const StateCodec codec(model);
  const std::string good = codec.encode(run_three_tokens(model));
  EXPECT_EQ(decode_error(codec, good), "");

  std::string flipped = good;
  flipped[50] ^= 1;
  EXPECT_EQ(decode_error(codec, flipped), "invalid state file: checksum mismatch");
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_EQ(decode_error(codec, magic), "invalid state file: bad magic (not a supra state)");
  EXPECT_EQ(decode_error(codec, good.substr(0, good.size() - 8)), "invalid state file: checksum mismatch");
  std::string version = good;
  version[8] = 9;
  reseal(version);
  EXPECT_EQ(decode_error(codec, version), "invalid state file: unsupported version 9");
  std::string token = good;
  const std::int32_t huge = 1 << 30;
  std::memcpy(token.data() + 40 + 24 * model.new_state().layers.size(), &huge, 4);  // the first token id
  reseal(token);
  EXPECT_NE(decode_error(codec, token).find("token id 1073741824 out of range"), std::string::npos);
  SavedState nan = run_three_tokens(model);
  nan.logits[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(decode_error(codec, codec.encode(nan)), "invalid state file: the logits hold a non-finite value");
}

INSTANTIATE_TEST_SUITE_P(Models, StateFileTest, ::testing::Values("supra_gqa", "mistral_softmax"));

// A state of one model is refused by another, and recognised as another model's (an operator's
// mistake to report as such) rather than as damage.
TEST(StateFile, AnotherModelsStateIsRefusedAsSuch) {
  const Model supra = Model::load(test::model_folder("supra_gqa"));
  const Model softmax = Model::load(test::model_folder("mistral_softmax"));
  const StateCodec a(supra), b(softmax);
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  const std::string bytes = a.encode(run_three_tokens(supra));
  EXPECT_FALSE(a.from_another_model(bytes));
  EXPECT_TRUE(b.from_another_model(bytes));
  EXPECT_EQ(decode_error(b, bytes), "invalid state file: attention kind differs from the model");
  EXPECT_FALSE(b.from_another_model("garbage"));
}

// The tokenizer's vocabulary can be smaller than the model's: ids beyond it are refused.
TEST(StateFile, TokenIdsAreCheckedAgainstTheGivenVocabulary) {
  const Model model = Model::load(test::model_folder("supra_gqa"));
  const SavedState s = run_three_tokens(model);
  EXPECT_EQ(decode_error(StateCodec(model, 9), StateCodec(model).encode(s)), "invalid state file: token id 9 out of range");
}

}  // namespace
}  // namespace supra
