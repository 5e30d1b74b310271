#include "train/train_checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/safetensors.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "io/model_folder.h"

namespace supra::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStateFormat = "supra-train-checkpoint";
constexpr int kStateVersion = 1;

std::string step_folder_name(std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return name;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<TensorToWrite> moment_tensors(const ParameterSet& moments, const std::string& prefix) {
  std::vector<TensorToWrite> out;
  for (const Parameter& p : moments.all())
    out.push_back(TensorToWrite{prefix + p.name, DType::F32, p.shape, std::as_bytes(std::span<const float>(p.data))});
  return out;
}

// Completed checkpoint folders (step-N), oldest first.
std::vector<fs::path> step_folders(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && !e.is_symlink() && name.starts_with("step-") && name.find('.') == std::string::npos)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

fs::path save_checkpoint(const fs::path& checkpoints_dir, const fs::path& model_files_dir, const ParameterSet& params,
                         const AdamW& adam, const CheckpointState& state, int keep) {
  fs::create_directories(checkpoints_dir);
  const std::string name = step_folder_name(state.step);
  const fs::path folder = checkpoints_dir / name;
  write_folder_atomically(
      folder,
      [&](const fs::path& dir) {
        copy_file_synced(model_files_dir / "config.json", dir / "config.json");
        copy_tokenizer_files(model_files_dir, dir);
        save_parameters(dir / "model.safetensors", params, {{"format", "pt"}});
        std::vector<TensorToWrite> moments = moment_tensors(adam.first_moment(), "exp_avg.");
        for (auto& t : moment_tensors(adam.second_moment(), "exp_avg_sq.")) moments.push_back(std::move(t));
        save_safetensors(dir / "optimizer.safetensors", moments, {{"step", std::to_string(adam.steps_taken())}});
        json j;
        j["format"] = kStateFormat;
        j["version"] = kStateVersion;
        j["step"] = state.step;
        j["tokens"] = state.tokens;
        j["data_position"] = state.data_position;
        j["epoch"] = state.epoch;
        j["data_seed"] = state.data_seed;
        j["settings"] = state.settings;
        write_text_file(dir / "trainer_state.json", j.dump(2) + "\n");
        std::string csv = csv_header();
        for (const StepRecord& r : state.log) csv += csv_row(r);
        write_text_file(dir / "train_log.csv", csv);
      },
      /*replace=*/true);
  // Switch `latest` with a rename, which replaces the old link atomically.
  const fs::path link = checkpoints_dir / "latest";
  fs::path tmp_link = link;
  tmp_link += ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp_link, ec);
  fs::create_directory_symlink(name, tmp_link);
  fs::rename(tmp_link, link);
  const std::vector<fs::path> done = step_folders(checkpoints_dir);
  for (std::size_t i = 0; i + static_cast<std::size_t>(std::max(keep, 1)) < done.size(); ++i) fs::remove_all(done[i], ec);
  return folder;
}

fs::path latest_checkpoint(const fs::path& checkpoints_dir) {
  const fs::path link = checkpoints_dir / "latest";
  if (!fs::is_symlink(link) || !fs::is_directory(link))
    throw Error("no checkpoint to resume from in " + checkpoints_dir.string());
  return checkpoints_dir / fs::read_symlink(link);
}

void remove_unfinished_checkpoints(const fs::path& checkpoints_dir) {
  if (!fs::is_directory(checkpoints_dir)) return;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(checkpoints_dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos || name.find(".old.") != std::string::npos) fs::remove_all(e.path(), ec);
  }
}

CheckpointState load_checkpoint_state(const fs::path& folder) {
  const fs::path path = folder / "trainer_state.json";
  CheckpointState s;
  try {
    const json j = json::parse(read_text(path));
    if (j.at("format") != kStateFormat || j.at("version") != kStateVersion)
      throw Error(path.string() + ": not a supra training checkpoint of version " + std::to_string(kStateVersion));
    s.step = j.at("step").get<std::int64_t>();
    s.tokens = j.at("tokens").get<std::int64_t>();
    s.data_position = j.at("data_position").get<std::uint64_t>();
    s.epoch = j.at("epoch").get<std::uint64_t>();
    s.data_seed = j.at("data_seed").get<std::uint64_t>();
    s.settings = j.at("settings").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    throw Error(path.string() + ": " + e.what());
  }
  s.log = parse_csv(read_text(folder / "train_log.csv"), (folder / "train_log.csv").string());
  return s;
}

OptimizerState load_optimizer_state(const fs::path& folder, const ParameterSet& params) {
  const Checkpoint file = Checkpoint::open_file(folder / "optimizer.safetensors");
  OptimizerState o{params.zeros_like(), params.zeros_like()};
  for (auto [set, prefix] : {std::pair{&o.m, "exp_avg."}, std::pair{&o.v, "exp_avg_sq."}})
    for (Parameter& p : set->all()) {
      const TensorView& t = file.get(prefix + p.name);
      if (t.shape != p.shape)
        throw Error(file.describe() + ": " + prefix + p.name + " has shape " + t.shape_string() +
                    ", which does not match the parameter");
      p.data = to_f32(t);
    }
  return o;
}

}  // namespace supra::train
