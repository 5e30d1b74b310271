// A small malicious model folder (issue 16): deeply nested JSON in every JSON file, FIFOs and
// devices where files are expected, loaders fed inputs that expand in memory. Each case must
// end quickly with ONE "error: " line and exit 1, under a memory cap where it matters; the
// `timeout` turns a hang into a failure instead of a stuck test.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "cli_helpers.h"
#include "file_builders.h"

namespace supra::test::cli {
namespace {

const std::string kTimeout = "timeout 60 ";

std::string deep(std::size_t levels) { return std::string(levels, '[') + "1" + std::string(levels, ']'); }

// A folder with stories260K's files, `skip` left out.
void copy_stories(const fs::path& dir, const std::string& skip = {}) {
  for (const auto& entry : fs::directory_iterator(stories()))
    if (entry.path().filename() != skip) copy_into(entry.path(), dir);
}

std::string logits_on(const fs::path& model) { return "logits -m " + q(model) + " --ids 1,2 -o " + q(model / "out.npy"); }

void make_fifo(const fs::path& path) { ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << path; }

TEST(CliHostileFolder, FifoConfigIsRefused) {
  TempDir tmp;
  make_fifo(tmp.path() / "config.json");
  expect_error(run_cli("info -m " + q(tmp.path()), kTimeout), "config.json: not a regular file (a FIFO)");
}

TEST(CliHostileFolder, FifoWeightsAreRefused) {
  for (const char* name : {"pytorch_model.bin", "model.safetensors", "model.gguf"}) {
    TempDir tmp;
    copy_stories(tmp.path(), "model.safetensors");
    make_fifo(tmp.path() / name);
    expect_error(run_cli(logits_on(tmp.path()), kTimeout), std::string(name) + ": not a regular file (a FIFO)");
  }
}

TEST(CliHostileFolder, FifoTokenizerAndPromptCacheAreRefused) {
  TempDir tmp;
  copy_stories(tmp.path(), "tokenizer.model");
  make_fifo(tmp.path() / "tokenizer.model");
  expect_error(run_cli("tokenize -m " + q(tmp.path()) + " -p hi", kTimeout), "tokenizer.model: not a regular file");

  TempDir cache;
  make_fifo(cache.path() / "prompt.state");
  expect_error(run_cli("generate -m " + q(stories()) + " -p Once -n 2 --prompt-cache " + q(cache.path() / "prompt.state"),
                       kTimeout),
               "prompt.state: not a regular file (a FIFO)");
}

TEST(CliHostileFolder, ConfigSymlinkedToDevZeroIsRefused) {
  TempDir tmp;
  fs::create_symlink("/dev/zero", tmp.path() / "config.json");
  // Read until memory ran out before; now refused before it is opened.
  expect_error(run_cli("info -m " + q(tmp.path()), address_space_cap(2000000) + kTimeout),
               "config.json: not a regular file (a character device)");
}

TEST(CliHostileFolder, DeeplyNestedJsonInEveryFile) {
  // 60k levels crashed `supra info` in the error message's dump(); 10k gave an 80 KB line.
  for (const std::size_t levels : {std::size_t{10000}, std::size_t{60000}}) {
    TempDir tmp;
    write_file(tmp.path() / "config.json", R"({"model_type": "openlm", "dim": )" + deep(levels) + "}");
    const CliResult r = run_cli("info -m " + q(tmp.path()), kTimeout);
    expect_error(r, "config.json: JSON nested deeper than 64 levels");
    EXPECT_LT(r.err.size(), 400u);
  }
  {
    TempDir tmp;
    copy_stories(tmp.path());
    write_file(tmp.path() / "generation_config.json", R"({"eos_token_id": )" + deep(100000) + "}");
    expect_error(run_cli("generate -m " + q(tmp.path()) + " -p Once -n 2", kTimeout),
                 "generation_config.json: JSON nested deeper than 64 levels");
  }
  for (const char* side_file : {"tokenizer_config.json", "special_tokens_map.json"}) {
    TempDir tmp;
    copy_stories(tmp.path());
    write_file(tmp.path() / side_file, R"({"add_bos_token": )" + deep(100000) + "}");
    const CliResult r = run_cli("tokenize -m " + q(tmp.path()) + " -p hi", kTimeout);
    // special_tokens_map.json is not read by supra; a nested one must not matter.
    if (std::string(side_file) == "tokenizer_config.json")
      expect_error(r, "tokenizer_config.json: JSON nested deeper than 64 levels");
    else
      EXPECT_EQ(r.exit_code, 0) << describe(r);
  }
  {
    TempDir tmp;
    copy_stories(tmp.path(), "model.safetensors");
    write_file(tmp.path() / "model.safetensors.index.json", R"({"weight_map": )" + deep(100000) + "}");
    expect_error(run_cli(logits_on(tmp.path()), kTimeout), "model.safetensors.index.json: JSON nested deeper");
  }
  {
    TempDir tmp;
    copy_stories(tmp.path(), "model.safetensors");
    write_file(tmp.path() / "model.safetensors",
               make_safetensors(R"({"a":{"dtype":"F32","shape":)" + deep(100000) + R"(,"data_offsets":[0,4]}})",
                                std::string(4, '\0')));
    expect_error(run_cli(logits_on(tmp.path()), kTimeout), "safetensors header: JSON nested deeper than 64 levels");
  }
}

TEST(CliHostileFolder, PickleOfNestedTuplesStaysUnderAMemoryCap) {
  // 10 MB of TUPLE1 opcodes took 1.98 GB of RSS; under a 1.5 GB address-space cap (the
  // process maps ~0.3 GB of libraries and thread stacks before it reads anything) it is
  // now a clean error.
  TempDir tmp;
  copy_stories(tmp.path(), "model.safetensors");
  const std::string pickle = kProto2 + "N" + std::string(10u << 20, '\x85') + kStop;
  write_file(tmp.path() / "pytorch_model.bin", make_torch_zip(pickle, {}));
  expect_error(run_cli(logits_on(tmp.path()), address_space_cap(1500000) + kTimeout),
               "the pickle holds a tuple, expected a dict of tensors");
}

TEST(CliHostileFolder, InfoCountsSharedStorageOnce) {
  // A million views of one storage made `supra info` report 244 GiB for a 152 MB file; a
  // thousand views of one 1020-byte storage must count 1020 bytes.
  TempDir tmp;
  copy_into(stories() / "config.json", tmp.path());
  std::string pickle = kProto2 + "}(";
  for (int i = 0; i < 1000; ++i) pickle += p_str("t" + std::to_string(i)) + p_tensor("0", 255, {255}, {1});
  pickle += "u" + kStop;
  write_file(tmp.path() / "pytorch_model.bin", make_torch_zip(pickle, {{"0", std::string(1020, '\0')}}));
  const CliResult r = run_cli("info -m " + q(tmp.path()), kTimeout);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("weights memory  1020.00 B (F32 1020.00 B)"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace supra::test::cli
