#include "train/train_checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>

#include "io/input_file.h"
#include "io/json_file.h"
#include "io/model_folder.h"
#include "io/safetensors.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "train/checkpoint_manifest.h"

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

// A log row is about 120 bytes: this allows millions of steps and still bounds the read.
constexpr std::size_t kMaxLogBytes = std::size_t{1} << 30;

// The first value of the moments that --resume would refuse (see load_optimizer_state).
std::optional<std::string> bad_moment(const ParameterSet& m, const ParameterSet& v) {
  if (auto bad = find_bad_value(m, "exp_avg.")) return bad;
  return find_bad_value(v, "exp_avg_sq.", /*non_negative=*/true);
}

// A JSON integer of the state file, refused when it has another type or sign (a get<> would
// convert 12.5 or -1 silently).
template <typename T>
T integer_field(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_integer() || (std::is_unsigned_v<T> && !v.is_number_unsigned()))
    throw Error(std::string("\"") + key + "\" must be a" + (std::is_unsigned_v<T> ? " non-negative" : "n") +
                " integer, not " + quote_json(v));
  return v.get<T>();
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
  const std::string name = step_folder_name(state.step);
  auto bad = find_bad_value(params);
  if (!bad) bad = bad_moment(adam.first_moment(), adam.second_moment());
  if (bad) throw Error("checkpoint " + name + " not saved: " + *bad);
  fs::create_directories(checkpoints_dir);
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
        write_checkpoint_checksums(dir);  // last: it covers every file above
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
  if (!fs::is_symlink(link)) {
    // A run killed after renaming its first checkpoint into place but before linking it: the
    // folder is complete (its checksums are verified before use).
    if (fs::is_directory(checkpoints_dir))
      if (const std::vector<fs::path> done = step_folders(checkpoints_dir); !done.empty()) return done.back();
    throw Error("no checkpoint to resume from in " + checkpoints_dir.string() +
                " (a run that stopped before its first checkpoint starts again without --resume)");
  }
  // save_checkpoint links a sibling step-<N> folder; anything else did not come from it.
  const fs::path target = fs::read_symlink(link);
  const std::string name = target.string();
  if (target.has_parent_path() || !name.starts_with("step-") || name.find('.') != std::string::npos)
    throw Error(link.string() + " points to " + shorten_text(name) + ", not to a checkpoint folder step-<N>");
  if (!fs::is_directory(checkpoints_dir / target))
    throw Error(link.string() + " points to " + name + ", which does not exist");
  return checkpoints_dir / target;
}

bool has_checkpoint(const fs::path& checkpoints_dir) {
  if (fs::is_symlink(checkpoints_dir / "latest")) return true;
  return fs::is_directory(checkpoints_dir) && !step_folders(checkpoints_dir).empty();
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
  const json j = read_json_file(path);
  try {
    if (!j.is_object() || j.value("format", json()) != kStateFormat || j.value("version", json()) != kStateVersion)
      throw Error("not a supra training checkpoint of version " + std::to_string(kStateVersion));
    s.step = integer_field<std::int64_t>(j, "step");
    s.tokens = integer_field<std::int64_t>(j, "tokens");
    s.data_position = integer_field<std::uint64_t>(j, "data_position");
    s.epoch = integer_field<std::uint64_t>(j, "epoch");
    s.data_seed = integer_field<std::uint64_t>(j, "data_seed");
    s.settings = j.at("settings").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    throw Error(path.string() + ": " + shorten_text(e.what(), 200));
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  const fs::path log = folder / "train_log.csv";
  s.log = parse_csv(read_small_file(log, kMaxLogBytes), log.string());
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
  if (const auto bad = bad_moment(o.m, o.v))
    throw Error(file.describe() + ": " + *bad + " (an AdamW moment must be finite, and exp_avg_sq not negative)");
  const std::optional<std::string> step = file.metadata("step");
  const char* end = step ? step->data() + step->size() : nullptr;
  const auto parsed = step ? std::from_chars(step->data(), end, o.step) : std::from_chars_result{end, std::errc::invalid_argument};
  if (parsed.ec != std::errc() || parsed.ptr != end || o.step < 0)
    throw Error(file.describe() + ": no valid \"step\" in its metadata");
  return o;
}

}  // namespace supra::train
