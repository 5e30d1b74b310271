// Non-finite numbers never pass silently (docs/TRAINING.md, "Failures"): a diverging run stops
// at the first step whose loss or gradient norm is not finite, naming it and keeping its last
// good checkpoint; a checkpoint with a NaN weight or moment is refused by --resume; a state
// file full of NaN is refused by the state import (server and --prompt-cache) despite its CRC.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <limits>
#include <nlohmann/json.hpp>

#include "supra/model.h"
#include "supra/state_file.h"
#include "train/checkpoint_manifest.h"
#include "train/parameters.h"
#include "train/train_log.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

namespace tr = supra::train;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using Divergence = SmallRunTest;

TEST_F(Divergence, AHugeLearningRateStopsAtTheFirstNonFiniteStep) {
  // The reproduction: without clipping, --lr 1e4 turns the loss into NaN within a few
  // steps. Checkpoints every step show that the last one before the bad step stays intact.
  const fs::path out = tmp_.path() / "nan";
  const CliResult r = run_cli(args(out, "--lr 1e4 --grad-clip 0 --checkpoint-every 1 --steps 8"));
  expect_cli_error(r, ": training stopped; the last good checkpoint is step ");
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  const auto at = r.err.find("error: step ");
  ASSERT_EQ(at, 0u) << r.err;
  const long bad_step = std::stol(r.err.substr(12));
  ASSERT_GE(bad_step, 2) << "the first step is finite here, so a checkpoint exists";
  EXPECT_NE(r.err.find("the last good checkpoint is step " + std::to_string(bad_step - 1)), std::string::npos) << r.err;

  EXPECT_FALSE(fs::exists(out / "model")) << "no final model from a diverged run";
  const fs::path latest = out / "checkpoints" / "latest";
  char good[32], bad[32];
  std::snprintf(good, sizeof good, "step-%08ld", bad_step - 1);
  std::snprintf(bad, sizeof bad, "step-%08ld", bad_step);
  EXPECT_EQ(fs::read_symlink(latest), good);
  EXPECT_FALSE(fs::exists(out / "checkpoints" / bad));
  EXPECT_NO_THROW(tr::verify_checkpoint_checksums(latest));
  const tr::ParameterSet weights = tr::load_parameters(Checkpoint::open_folder(latest));
  EXPECT_EQ(tr::find_bad_value(weights), std::nullopt);
  const tr::ParameterSet moments = tr::load_parameters(Checkpoint::open_file(latest / "optimizer.safetensors"));
  EXPECT_EQ(tr::find_bad_value(moments), std::nullopt);
  // The log holds the finite steps only.
  const auto log = tr::parse_csv(read_file(out / "train_log.csv"), "train_log.csv");
  EXPECT_EQ(static_cast<long>(log.size()), bad_step - 1);
  for (const tr::StepRecord& s : log) EXPECT_TRUE(std::isfinite(s.loss) && std::isfinite(s.grad_norm)) << s.step;
}

TEST_F(Divergence, ANonFiniteStartingModelIsRefused) {
  const fs::path model = tmp_.path() / "model";
  fs::create_directories(model);
  fs::copy_file(golden("supra_gqa") / "config.json", model / "config.json");
  tr::ParameterSet p = tr::load_parameters(Checkpoint::open_folder(golden("supra_gqa")));
  p.all().back().data[5] = std::numeric_limits<float>::infinity();
  tr::save_parameters(model / "model.safetensors", p);
  expect_cli_error(run_cli(args(tmp_.path() / "run", "-m " + q(model))),
                   p.all().back().name + " holds inf at element 5: refusing to train non-finite weights");
}

// Rewrites a safetensors file of the latest checkpoint with `edit` applied, and its checksum,
// as a buggy writer would have: only the value checks can catch it.
void edit_tensors(const fs::path& run, const std::string& file, const std::map<std::string, std::string>& metadata,
                  const std::function<void(tr::ParameterSet&)>& edit) {
  const fs::path dir = run / "checkpoints" / "step-00000008";
  tr::ParameterSet set = tr::load_parameters(Checkpoint::open_file(dir / file));
  edit(set);
  tr::save_parameters(dir / file, set, metadata);
  tr::write_checkpoint_checksums(dir);
}

TEST_F(Divergence, ResumeRefusesNonFiniteWeightsAndMoments) {
  const fs::path run = finished_run("run");
  const fs::path dir = run / "checkpoints" / "step-00000008";
  const std::string weights = read_file(dir / "model.safetensors"), moments = read_file(dir / "optimizer.safetensors");
  const std::string first = tr::load_parameters(Checkpoint::open_folder(dir)).all().front().name;

  edit_tensors(run, "model.safetensors", {{"format", "pt"}}, [](tr::ParameterSet& s) { s.all().front().data[3] = kNaN; });
  expect_cli_error(run_cli(args(run, "--resume")), first + " holds nan at element 3: refusing to train non-finite weights");
  write_file(dir / "model.safetensors", weights);

  edit_tensors(run, "optimizer.safetensors", {{"step", "8"}}, [&](tr::ParameterSet& s) { s.at("exp_avg." + first).data[1] = kNaN; });
  expect_cli_error(run_cli(args(run, "--resume")), "exp_avg." + first + " holds nan at element 1");
  write_file(dir / "optimizer.safetensors", moments);

  edit_tensors(run, "optimizer.safetensors", {{"step", "8"}}, [&](tr::ParameterSet& s) { s.at("exp_avg_sq." + first).data[0] = -1; });
  expect_cli_error(run_cli(args(run, "--resume")), "exp_avg_sq." + first + " holds -1 at element 0");
  write_file(dir / "optimizer.safetensors", moments);

  tr::write_checkpoint_checksums(dir);
  const CliResult ok = run_cli(args(run, "--resume"));
  EXPECT_EQ(ok.exit_code, 0) << describe(ok);
}

// A state of the shipped SUPRA model after a short prompt, as a state file.
struct StateFixture {
  Model model = Model::load(stories().parent_path() / "stories260K-supra");
  StateCodec codec{model};
  SavedState stored;
  StateFixture() {
    stored.tokens = {1, 403, 407};
    stored.state = model.new_state();
    model.forward(stored.tokens, stored.state, Mode::Recurrent, LogitsWanted::None);
  }
  std::string import_error(const std::string& bytes) const {
    try {
      codec.decode(bytes);
    } catch (const InvalidStateFile& e) {
      return e.what();
    }
    return "";
  }
};

TEST(NonFiniteState, AStateFileWithNaNIsRefusedDespiteItsChecksum) {
  StateFixture f;
  EXPECT_EQ(f.import_error(f.codec.encode(f.stored)), "");
  SavedState bad = f.stored;
  for (float& x : bad.state.layers.back().matrix) x = kNaN;  // "full of NaN", with a valid CRC
  EXPECT_NE(f.import_error(f.codec.encode(bad))
                .find("layer " + std::to_string(bad.state.layers.size() - 1) + " matrix holds a non-finite value (nan) at element 0"),
            std::string::npos);
  bad = f.stored;
  bad.state.layers[0].matrix[7] = -std::numeric_limits<float>::infinity();
  EXPECT_NE(f.import_error(f.codec.encode(bad)).find("layer 0 matrix holds a non-finite value (inf) at element 7"),
            std::string::npos);
}

TEST(NonFiniteState, GenerateRefusesANaNPromptCache) {
  StateFixture f;
  TempDir tmp;
  SavedState bad = f.stored;
  bad.state.layers[0].matrix[0] = kNaN;
  write_file(tmp.path() / "cache.bin", f.codec.encode(bad));
  expect_cli_error(run_cli("generate -m " + q(stories().parent_path() / "stories260K-supra") + " -p 'Once upon' -n 4 --mode recurrent --prompt-cache " +
                           q(tmp.path() / "cache.bin")),
                   "non-finite value (nan)");
}

}  // namespace
}  // namespace supra::test::train_tests
