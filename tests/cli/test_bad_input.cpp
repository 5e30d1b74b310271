// Bad input to `supra`: every case must give ONE "error: " line on stderr and a non-zero exit
// below 128 (128 + n is a signal: a crash), never a hang or a partial result.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "file_builders.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"

namespace supra::test::cli {
namespace {

std::string logits_on(const fs::path& model, const fs::path& out_dir, const std::string& ids = "1,2,3") {
  return "logits -m " + q(model) + " --ids " + ids + " -o " + q(out_dir / "out.npy");
}

// A folder with supra_gqa's config.json and the given config text instead, when not empty.
void write_config(const fs::path& dir, const std::string& text = {}) {
  if (text.empty())
    copy_into(golden("supra_gqa") / "config.json", dir);
  else
    write_file(dir / "config.json", text);
}

// supra_gqa's config.json text with `key`'s line removed.
std::string config_without(const std::string& key) {
  std::string text = read_file(golden("supra_gqa") / "config.json");
  const std::size_t at = text.find("\"" + key + "\"");
  EXPECT_NE(at, std::string::npos) << key;
  const std::size_t begin = text.rfind('\n', at);
  const std::size_t end = text.find('\n', at);
  text.erase(begin, end - begin);
  return text;
}

// supra_gqa's weights rewritten through the io writer, `edit` changing the list first.
template <class Edit>
void write_weights(const fs::path& dir, Edit edit) {
  const TensorFile src = open_safetensors(golden("supra_gqa") / "model.safetensors");
  std::vector<TensorToWrite> tensors;
  for (const TensorView& t : src.tensors())
    tensors.push_back({t.name, t.dtype, t.shape, std::span<const std::byte>(t.data, t.nbytes)});
  edit(tensors);
  save_safetensors(dir / "model.safetensors", tensors, src.metadata());
}

void expect_no_output_file(const fs::path& dir) {
  EXPECT_FALSE(fs::exists(dir / "out.npy")) << "a failed run must not leave an output";
}

// --- model folders ---

TEST(CliBadInput, MissingModelFolder) {
  TempDir tmp;
  const CliResult r = run_cli(logits_on(tmp.path() / "no_such_model", tmp.path()));
  expect_error(r, "no_such_model");
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, MissingModelFolderForInfoAndGenerate) {
  TempDir tmp;
  expect_error(run_cli("info -m " + q(tmp.path() / "no_such_model")), "no_such_model");
  expect_error(run_cli("generate -m " + q(tmp.path() / "no_such_model") + " -p hi -n 2"), "no_such_model");
  expect_error(run_cli("tokenize -m " + q(tmp.path() / "no_such_model") + " -p hi"), "no_such_model");
}

TEST(CliBadInput, FolderWithoutConfig) {
  TempDir tmp;
  copy_into(golden("supra_gqa") / "model.safetensors", tmp.path());
  expect_error(run_cli(logits_on(tmp.path(), tmp.path())), "config.json");
  expect_error(run_cli("info -m " + q(tmp.path())), "config.json");
}

TEST(CliBadInput, InvalidJsonConfig) {
  TempDir tmp;
  write_config(tmp.path(), "{\"model_type\": \"openlm\", \"dim\": 128,,}");
  const CliResult r = run_cli("info -m " + q(tmp.path()));
  expect_error(r, "invalid JSON");
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
}

TEST(CliBadInput, UnknownArchitecture) {
  TempDir tmp;
  write_config(tmp.path(), R"({"model_type": "gpt2", "n_embd": 128, "n_layer": 2, "n_head": 2, "vocab_size": 512})");
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "gpt2");
  EXPECT_NE(r.err.find("unknown architecture"), std::string::npos) << r.err;
}

TEST(CliBadInput, ConfigMissingARequiredField) {
  TempDir tmp;
  write_config(tmp.path(), config_without("qk_head_dim"));
  copy_into(golden("supra_gqa") / "model.safetensors", tmp.path());
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "qk_head_dim");
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
}

TEST(CliBadInput, ConfigWithAFieldOfTheWrongType) {
  TempDir tmp;
  std::string text = read_file(golden("supra_gqa") / "config.json");
  text.replace(text.find("\"n_layers\": 4"), 13, "\"n_layers\": \"four\"");
  write_config(tmp.path(), text);
  expect_error(run_cli("info -m " + q(tmp.path())), "n_layers");
}

TEST(CliBadInput, FolderWithConfigButNoWeights) {
  TempDir tmp;
  write_config(tmp.path());
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "no weights file");
  expect_no_output_file(tmp.path());
}

// --- weights ---

TEST(CliBadInput, TensorMissing) {
  TempDir tmp;
  write_config(tmp.path());
  const std::string dropped = "model.layers.0.attention.out_proj.weight";
  write_weights(tmp.path(), [&](std::vector<TensorToWrite>& ts) {
    std::erase_if(ts, [&](const TensorToWrite& t) { return t.name == dropped; });
  });
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "out_proj");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, TensorWithTheWrongShape) {
  TempDir tmp;
  write_config(tmp.path());
  write_weights(tmp.path(), [](std::vector<TensorToWrite>& ts) {
    for (TensorToWrite& t : ts)
      if (t.name == "model.layers.0.attention.out_proj.weight") t.shape = {64, 256};  // was [128, 128]
  });
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "out_proj");
  EXPECT_NE(r.err.find("[64, 256]"), std::string::npos) << r.err;
}

TEST(CliBadInput, UnexpectedExtraTensor) {
  TempDir tmp;
  write_config(tmp.path());
  const std::vector<float> extra(4, 0.0f);
  write_weights(tmp.path(), [&](std::vector<TensorToWrite>& ts) {
    ts.push_back({"model.layers.9.mystery.weight", DType::F32, {4},
                  std::as_bytes(std::span<const float>(extra))});
  });
  expect_error(run_cli(logits_on(tmp.path(), tmp.path())), "mystery");
}

TEST(CliBadInput, TruncatedSafetensors) {
  TempDir tmp;
  write_config(tmp.path());
  const std::string bytes = read_file(golden("supra_gqa") / "model.safetensors");
  write_file(tmp.path() / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "model.safetensors");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, TruncatedSafetensorsInsideTheHeader) {
  TempDir tmp;
  write_config(tmp.path());
  const std::string bytes = read_file(golden("supra_gqa") / "model.safetensors");
  write_file(tmp.path() / "model.safetensors", bytes.substr(0, 100));
  expect_error(run_cli(logits_on(tmp.path(), tmp.path())), "model.safetensors");
}

TEST(CliBadInput, EmptySafetensors) {
  TempDir tmp;
  write_config(tmp.path());
  write_file(tmp.path() / "model.safetensors", "");
  expect_error(run_cli(logits_on(tmp.path(), tmp.path())), "model.safetensors");
}

TEST(CliBadInput, TruncatedPytorchBin) {
  TempDir tmp;
  write_config(tmp.path());
  const std::string bytes = read_file(golden("supra_gqa-bin") / "pytorch_model.bin");
  write_file(tmp.path() / "pytorch_model.bin", bytes.substr(0, bytes.size() / 2));
  const CliResult r = run_cli(logits_on(tmp.path(), tmp.path()));
  expect_error(r, "pytorch_model.bin");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, PytorchBinLoadsWhenIntact) {  // the control for the truncation above
  TempDir tmp;
  const CliResult r = run_cli(logits_on(golden("supra_gqa-bin"), tmp.path()));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(fs::exists(tmp.path() / "out.npy"));
}

// A pickle that would run system("touch <pwned>") when unpickled by Python's pickle.
std::string hostile_pickle_global(const fs::path& pwned) {
  const std::string cmd = "touch " + pwned.string();
  return kProto2 + p_global("os", "system") + p_str(cmd) + "\x85" + "R" + kStop;
}
// The same through protocol 4's STACK_GLOBAL, spelled as CPython pickles os.system.
std::string hostile_pickle_stack_global(const fs::path& pwned) {
  const std::string cmd = "touch " + pwned.string();
  auto short_str = [](const std::string& s) {
    std::string op(1, '\x8c');
    op += static_cast<char>(s.size());
    return op + s;
  };
  return std::string("\x80\x04", 2) + short_str("posix") + short_str("system") + "\x93" + p_str(cmd) + "\x85" + "R" + kStop;
}

void check_hostile_bin(const std::string& pickle, const fs::path& dir, const fs::path& pwned,
                       const std::string& global) {
  write_config(dir);
  write_file(dir / "pytorch_model.bin", make_zip({{"pytorch_model/data.pkl", pickle},
                                                  {"pytorch_model/version", "3\n"}}));
  const CliResult r = run_cli(logits_on(dir, dir));
  expect_error(r, global);
  EXPECT_NE(r.err.find("rejected"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(pwned)) << "the pickle ran code";
  expect_no_output_file(dir);

  // `info` reads the weights' headers too: it must refuse the same way (it reports unreadable
  // weights and goes on), and must not run the code either.
  const CliResult i = run_cli("info -m " + q(dir));
  EXPECT_LT(i.exit_code, 128) << describe(i);
  EXPECT_NE(i.out.find(global), std::string::npos) << describe(i);
  EXPECT_FALSE(fs::exists(pwned)) << "the pickle ran code";
}

TEST(CliBadInput, PickleNamingOsSystemIsRejected) {
  TempDir tmp;
  const fs::path pwned = tmp.path() / "pwned";
  check_hostile_bin(hostile_pickle_global(pwned), tmp.path(), pwned, "os.system");
}

TEST(CliBadInput, PickleNamingPosixSystemViaStackGlobalIsRejected) {
  TempDir tmp;
  const fs::path pwned = tmp.path() / "pwned";
  check_hostile_bin(hostile_pickle_stack_global(pwned), tmp.path(), pwned, "posix.system");
}

// --- token ids ---

TEST(CliBadInput, TokenIdOutOfRange) {
  TempDir tmp;
  const CliResult r = run_cli(logits_on(golden("supra_gqa"), tmp.path(), "1,99999"));
  expect_error(r, "99999");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, NegativeTokenId) {
  TempDir tmp;
  const CliResult r = run_cli("logits -m " + q(golden("supra_gqa")) + " --ids=1,-1 -o " + q(tmp.path() / "out.npy"));
  expect_error(r, "-1");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, NonNumericIds) {
  TempDir tmp;
  const CliResult r = run_cli(logits_on(golden("supra_gqa"), tmp.path(), "1,two,3"));
  expect_error(r, "two");
  EXPECT_NE(r.err.find("--ids"), std::string::npos) << r.err;
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, MalformedIdLists) {
  TempDir tmp;
  for (const char* ids : {"1,,2", "1,2,", "''", "1.5", "0x10", "99999999999999999999"}) {
    SCOPED_TRACE(ids);
    expect_error(run_cli(logits_on(golden("supra_gqa"), tmp.path(), ids)), "--ids");
  }
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, LogitsOutputIntoAMissingFolder) {
  TempDir tmp;
  const CliResult r =
      run_cli("logits -m " + q(golden("supra_gqa")) + " --ids 1,2 -o " + q(tmp.path() / "nowhere" / "out.npy"));
  expect_error(r, "nowhere");
}

TEST(CliBadInput, LogitsOutputOntoADirectory) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "out.npy");
  const CliResult r = run_cli(logits_on(golden("supra_gqa"), tmp.path()));
  expect_error(r, "out.npy");
  EXPECT_TRUE(fs::is_directory(tmp.path() / "out.npy"));
  // No temporary file is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

// --- sampling and mode flags ---

TEST(CliBadInput, NegativeTemperature) {
  expect_error(run_cli("generate -p hi -n 4 --temperature -1"), "--temperature");
}

TEST(CliBadInput, TopPZero) { expect_error(run_cli("generate -p hi -n 4 --temperature 1 --top-p 0"), "--top-p"); }

TEST(CliBadInput, TopPAboveOne) {
  expect_error(run_cli("generate -p hi -n 4 --temperature 1 --top-p 1.5"), "--top-p");
}

TEST(CliBadInput, RepetitionPenaltyZero) {
  expect_error(run_cli("generate -p hi -n 4 --repetition-penalty 0"), "--repetition-penalty");
}

TEST(CliBadInput, NegativeTopK) { expect_error(run_cli("generate -p hi -n 4 --temperature 1 --top-k -3"), "--top-k"); }

TEST(CliBadInput, NonFiniteTemperature) {
  expect_error(run_cli("generate -p hi -n 4 --temperature nan"), "--temperature");
  expect_error(run_cli("generate -p hi -n 4 --temperature inf"), "--temperature");
}

TEST(CliBadInput, UnknownMode) {
  TempDir tmp;
  expect_error(run_cli("generate -p hi -n 4 --mode sideways"), "sideways");
  expect_error(run_cli("logits -m " + q(golden("supra_gqa")) + " --ids 1 --mode sideways -o " +
                       q(tmp.path() / "out.npy")),
               "sideways");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, NegativeMaxNewTokens) {
  const CliResult r = run_cli("generate -p hi -n -5");
  expect_error(r, "max-new-tokens");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliBadInput, NonNumericFlagValueIsAFlagError) {
  expect_flag_error(run_cli("generate -p hi -n many"), "many");
  expect_flag_error(run_cli("generate -p hi --temperature warm"), "warm");
}

// --- command line syntax ---

// The message must name the word it did not understand (CLI11 with require_subcommand(1)
// says only "A subcommand is required", which misleads: the user did give one).
TEST(CliBadInput, UnknownSubcommand) { expect_flag_error(run_cli("frobnicate"), "frobnicate"); }

TEST(CliBadInput, UnexpectedPositionalArgument) {
  expect_flag_error(run_cli("generate stray_word -n 1"), "stray_word");
}

TEST(CliBadInput, NoSubcommand) { expect_error(run_cli(""), "no command given"); }

TEST(CliBadInput, UnknownFlag) { expect_flag_error(run_cli("generate --bogus-flag 3"), "bogus-flag"); }

TEST(CliBadInput, LogitsWithoutRequiredFlags) {
  expect_flag_error(run_cli("logits -m " + q(golden("supra_gqa")) + " --ids 1"), "--output");
  TempDir tmp;
  expect_flag_error(run_cli("logits -m " + q(golden("supra_gqa")) + " -o " + q(tmp.path() / "out.npy")), "--ids");
  expect_no_output_file(tmp.path());
}

TEST(CliBadInput, GenerateWithoutTokenizerModel) {
  TempDir tmp;
  write_config(tmp.path());
  copy_into(golden("supra_gqa") / "model.safetensors", tmp.path());
  const CliResult r = run_cli("generate -m " + q(tmp.path()) + " -p hi -n 4");
  expect_error(r, "tokenizer");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliBadInput, TokenizeWithoutTokenizerModel) {
  TempDir tmp;
  write_config(tmp.path());
  expect_error(run_cli("tokenize -m " + q(tmp.path()) + " -p hi"), "tokenizer");
}

TEST(CliBadInput, CorruptTokenizerModel) {
  TempDir tmp;
  for (const char* f : {"config.json", "model.safetensors", "special_tokens_map.json", "tokenizer_config.json",
                        "generation_config.json"})
    copy_into(stories() / f, tmp.path());
  write_file(tmp.path() / "tokenizer.model", "this is not a sentencepiece model");
  expect_error(run_cli("generate -m " + q(tmp.path()) + " -p hi -n 4"), "tokenizer.model");
}

}  // namespace
}  // namespace supra::test::cli
