// Checkpoint integrity (docs/TRAINING.md, "Failures"): checksums.json covers every file of a
// checkpoint and --resume verifies it before reading anything; then every field of
// trainer_state.json and train_log.csv must be what this run would have written. Each damaged
// or edited checkpoint is made here from a real one.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "supra/error.h"
#include "train/checkpoint_manifest.h"
#include "train/optimizer.h"
#include "train/train_checkpoint.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

namespace tr = supra::train;
using nlohmann::json;

// The message of the supra::Error `f` throws ("" when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void flip_bit(const fs::path& path, std::size_t offset) {
  std::string bytes = read_file(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x10);
  write_file(path, bytes);
}

// A valid checkpoint of a one-tensor parameter set, written by save_checkpoint.
fs::path small_checkpoint(const fs::path& dir) {
  tr::ParameterSet params;
  params.add("w", {4}).data = {1, 2, 3, 4};
  const tr::AdamW adam(params, {});
  tr::CheckpointState state;
  state.step = 1;
  return tr::save_checkpoint(dir, golden("supra_gqa"), params, adam, state);
}

TEST(CheckpointChecksums, ListEveryFileAndCatchEachKindOfDamage) {
  TempDir tmp;
  const fs::path good = small_checkpoint(tmp.path() / "checkpoints");
  ASSERT_TRUE(fs::is_regular_file(good / "checksums.json"));
  const json sums = json::parse(read_file(good / "checksums.json"));
  for (const char* name : {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "train_log.csv"})
    EXPECT_TRUE(sums["files"].contains(name)) << name;
  EXPECT_EQ(error_of([&] { tr::verify_checkpoint_checksums(good); }), "");

  // Each case damages a fresh copy and names the file in its error.
  const std::vector<std::pair<std::function<void(const fs::path&)>, std::string>> cases = {
      {[](const fs::path& d) { flip_bit(d / "model.safetensors", fs::file_size(d / "model.safetensors") - 3); },
       "model.safetensors is damaged: its CRC-32"},
      {[](const fs::path& d) { fs::resize_file(d / "optimizer.safetensors", fs::file_size(d / "optimizer.safetensors") - 1); },
       "optimizer.safetensors is damaged: "},
      {[](const fs::path& d) { fs::remove(d / "train_log.csv"); }, "train_log.csv is missing"},
      {[](const fs::path& d) { write_file(d / "tokenizer.json", "{}"); }, "tokenizer.json is not listed"},
      {[](const fs::path& d) { fs::create_directory(d / "sub"); }, "sub: not a regular file"},
      {[](const fs::path& d) { fs::remove(d / "checksums.json"); }, "checksums.json is missing"},
      {[](const fs::path& d) { write_file(d / "checksums.json", "[1"); }, "checksums.json"},
      {[](const fs::path& d) {
         json j = json::parse(read_file(d / "checksums.json"));
         j["files"]["../x"] = {{"bytes", 1}, {"crc32", "00000000"}};
         write_file(d / "checksums.json", j.dump());
       },
       "\"../x\" is not a file name"},
      {[](const fs::path& d) {
         json j = json::parse(read_file(d / "checksums.json"));
         j["files"]["config.json"]["crc32"] = 7;
         write_file(d / "checksums.json", j.dump());
       },
       "needs \"bytes\""},
  };
  int n = 0;
  for (const auto& [damage, expected] : cases) {
    const fs::path copy = tmp.path() / ("copy" + std::to_string(n++));
    fs::copy(good, copy);
    damage(copy);
    const std::string err = error_of([&] { tr::verify_checkpoint_checksums(copy); });
    EXPECT_NE(err.find(expected), std::string::npos) << "expected \"" << expected << "\", got \"" << err << "\"";
    EXPECT_NE(err.find(copy.string()), std::string::npos) << err;
  }
}

TEST(CheckpointChecksums, NonFiniteValuesAreNeverSaved) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "checkpoints";
  tr::ParameterSet params;
  params.add("w", {4}).data = {1, 2, 3, 4};
  tr::AdamW adam(params, {});
  tr::CheckpointState state;
  state.step = 3;
  params.at("w").data[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error_of([&] { tr::save_checkpoint(dir, golden("supra_gqa"), params, adam, state); })
                .find("checkpoint step-00000003 not saved: w holds nan at element 2"),
            std::string::npos);
  params.at("w").data[2] = 3;
  tr::ParameterSet m = params.zeros_like(), v = params.zeros_like();
  v.at("w").data[1] = -1;
  adam.set_state(3, m, v);
  EXPECT_NE(error_of([&] { tr::save_checkpoint(dir, golden("supra_gqa"), params, adam, state); })
                .find("exp_avg_sq.w holds -1 at element 1"),
            std::string::npos);
  v.at("w").data[1] = 0;
  m.at("w").data[3] = -std::numeric_limits<float>::infinity();
  adam.set_state(3, m, v);
  EXPECT_NE(error_of([&] { tr::save_checkpoint(dir, golden("supra_gqa"), params, adam, state); })
                .find("exp_avg.w holds -inf at element 3"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "step-00000003"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir / "latest")));
}

// Edits a file of the latest checkpoint of `run`, then writes checksums.json anew (as a
// deliberate edit would), so that the field checks, not the checksums, must catch it.
void edit_sealed(const fs::path& run, const std::string& file, const std::function<void(std::string&)>& edit) {
  const fs::path dir = tr::latest_checkpoint(run / "checkpoints");
  std::string text = read_file(dir / file);
  edit(text);
  write_file(dir / file, text);
  tr::write_checkpoint_checksums(dir);
}

void edit_state(const fs::path& run, const std::function<void(json&)>& edit) {
  edit_sealed(run, "trainer_state.json", [&](std::string& text) {
    json j = json::parse(text);
    edit(j);
    text = j.dump(2);
  });
}

using CheckpointResume = SmallRunTest;

TEST_F(CheckpointResume, AFlippedBitInAWeightIsRefused) {
  const fs::path run = finished_run("run");
  const fs::path weights = run / "checkpoints" / "step-00000008" / "model.safetensors";
  const std::string exported = read_file(run / "model" / "model.safetensors");
  flip_bit(weights, fs::file_size(weights) - 100);  // a mantissa bit of the last tensor
  expect_cli_error(run_cli(args(run, "--resume")), "step-00000008/model.safetensors is damaged: its CRC-32 is ");
  EXPECT_EQ(read_file(run / "model" / "model.safetensors"), exported) << "a refused resume must write nothing";
}

TEST_F(CheckpointResume, AnEditedStateFileFailsItsChecksum) {
  const fs::path run = finished_run("run");
  const fs::path state = run / "checkpoints" / "step-00000008" / "trainer_state.json";
  std::string text = read_file(state);
  const auto at = text.find("\"step\": 8");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 9, "\"step\": 999");
  write_file(state, text);
  expect_cli_error(run_cli(args(run, "--resume")), "trainer_state.json is damaged");
}

TEST_F(CheckpointResume, EveryStateFieldIsCheckedAgainstTheRun) {
  const fs::path run = finished_run("run");
  const fs::path dir = run / "checkpoints" / "step-00000008";
  const std::string original = read_file(dir / "trainer_state.json");
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) { j["step"] = 999; }, "step 999 is outside this run's steps 1 to 8"},
      {[](json& j) { j["step"] = 0; }, "step 0 is outside"},
      {[](json& j) { j["step"] = 4; }, "step 4 does not match the folder step-00000008"},
      {[](json& j) { j["step"] = "8"; }, "\"step\" must be an integer"},
      {[](json& j) { j["step"] = 8.5; }, "\"step\" must be an integer"},
      {[](json& j) { j["data_position"] = 99999999999ull; }, "data_position 99999999999 differs from step × batch = 32"},
      {[](json& j) { j["data_position"] = -1; }, "\"data_position\" must be a non-negative integer"},
      {[](json& j) { j["tokens"] = 1; }, "tokens 1 differs"},
      {[](json& j) { j["epoch"] = 7; }, "epoch 7 differs"},
      {[](json& j) { j["data_seed"] = 12; }, "data_seed 12 differs from --seed 11"},
      {[](json& j) { j["settings"]["lr"] = "0.5"; }, "lr is 0.002 in this run but 0.5"},
      {[](json& j) { j["settings"]["batch_size"] = "8"; }, "batch_size is 4 in this run but 8"},
      {[](json& j) { j["settings"].erase("z_loss"); }, "z_loss is 0 in this run but (absent)"},
      {[](json& j) { j["settings"]["momentum"] = "1"; }, "has a setting momentum this run does not know"},
      {[](json& j) { j["version"] = 2; }, "not a supra training checkpoint of version 1"},
      {[](json& j) { j.erase("epoch"); }, "epoch"},
  };
  for (const auto& [edit, expected] : cases) {
    write_file(dir / "trainer_state.json", original);
    edit_state(run, edit);
    expect_cli_error(run_cli(args(run, "--resume")), expected);
  }
  write_file(dir / "trainer_state.json", original);
  tr::write_checkpoint_checksums(dir);
  const CliResult ok = run_cli(args(run, "--resume"));
  EXPECT_EQ(ok.exit_code, 0) << "the restored checkpoint must resume: " << describe(ok);
}

TEST_F(CheckpointResume, TheLogAndTheOptimizerStepMustMatchTheState) {
  const fs::path run = finished_run("run");
  const fs::path dir = run / "checkpoints" / "step-00000008";
  const std::string log = read_file(dir / "train_log.csv");
  edit_sealed(run, "train_log.csv", [](std::string& t) { t.erase(t.rfind('\n', t.size() - 2) + 1); });
  expect_cli_error(run_cli(args(run, "--resume")), "train_log.csv has 7 rows, the checkpoint is of step 8");
  edit_sealed(run, "train_log.csv", [&](std::string& t) {
    t = log;
    const auto row3 = t.find("\n3,");
    ASSERT_NE(row3, std::string::npos);
    t.replace(row3 + 1, 1, "5");
  });
  expect_cli_error(run_cli(args(run, "--resume")), "row 3 is of step 5");
  edit_sealed(run, "train_log.csv", [&](std::string& t) { t = log; });

  // optimizer.safetensors of another step, with its checksum updated.
  tr::ParameterSet moments = tr::load_parameters(Checkpoint::open_file(dir / "optimizer.safetensors"));
  tr::save_parameters(dir / "optimizer.safetensors", moments, {{"step", "5"}});
  tr::write_checkpoint_checksums(dir);
  expect_cli_error(run_cli(args(run, "--resume")), "optimizer.safetensors is of step 5, trainer_state.json of step 8");
}

}  // namespace
}  // namespace supra::test::train_tests
