// The tensor table against what the files in the repository really hold, and its three
// namings against each other.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "convert/synthetic.h"
#include "model/tensor_table.h"
#include "supra/checkpoint.h"
#include "supra/config.h"
#include "test_support.h"

namespace supra {
namespace {

namespace fs = std::filesystem;

// Every model folder of the repository (the golden fixtures of every architecture variant,
// the shipped stories260K) with its config.
std::vector<fs::path> model_folders() {
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(test::data_dir() / "golden"))
    if (fs::exists(entry.path() / "config.json")) dirs.push_back(entry.path());
  dirs.push_back(test::data_dir().parent_path().parent_path() / "models" / "stories260K");
  return dirs;
}

// (layer, role) -> shape of the rows that serve it, aliases included.
using RoleShapes = std::map<std::pair<int, TensorRole>, std::pair<std::int64_t, std::int64_t>>;

RoleShapes role_shapes(const std::vector<TensorEntry>& table) {
  RoleShapes shapes;
  for (const TensorEntry& e : table)
    for (const TensorPart& p : e.parts) {
      shapes[{e.layer, p.role}] = {p.rows, e.cols};
      if (p.has_alias) shapes[{e.layer, p.alias}] = {p.rows, e.cols};
    }
  return shapes;
}

TEST(TensorTable, NamesAndShapesAreExactlyWhatTheRepositoryCheckpointsHold) {
  for (const fs::path& dir : model_folders()) {
    SCOPED_TRACE(dir.string());
    const ModelConfig config = ModelConfig::load_folder(dir);
    const Checkpoint ckpt = Checkpoint::open_folder(dir);
    const TensorNaming naming = naming_for(config, false);
    const std::string prefix = stored_prefix(naming, [&](const std::string& n) { return ckpt.has(n); });
    std::set<std::string> listed;
    std::int64_t stored = 0;
    for (const TensorEntry& e : tensor_table(config, naming)) {
      if (e.optional && !ckpt.has(prefix + e.name)) continue;
      ASSERT_TRUE(ckpt.has(prefix + e.name)) << e.name;
      const TensorView& t = ckpt.get(prefix + e.name);
      EXPECT_EQ(t.shape, e.shape()) << e.name;
      listed.insert(prefix + e.name);
      if (!e.optional) stored += t.numel();
    }
    EXPECT_EQ(stored, config.parameter_count());
    for (const std::string& name : ckpt.names())
      if (!ignorable_tensor(name)) {
        EXPECT_TRUE(listed.count(name)) << name << " is stored but not in the table";
      }
  }
}

TEST(TensorTable, EveryNamingServesTheSameRolesWithTheSameShapes) {
  std::vector<ModelConfig> configs;
  for (const fs::path& dir : model_folders()) configs.push_back(ModelConfig::load_folder(dir));
  for (const std::string& name : synthetic_names()) configs.push_back(synthetic_config(name));
  for (const ModelConfig& c : configs) {
    SCOPED_TRACE(c.summary());
    const RoleShapes gguf = role_shapes(tensor_table(c, TensorNaming::Gguf));
    EXPECT_EQ(role_shapes(tensor_table(c, naming_for(c, false))), gguf);
    // Per layer: the attention and feed-forward roles, the feature maps for SUPRA.
    const std::size_t per_layer = c.attention == AttentionKind::Linear ? (c.qk_norm ? 15 : 13) : 9;
    EXPECT_EQ(gguf.size(), 3 + per_layer * static_cast<std::size_t>(c.n_layers));
  }
}

TEST(TensorTable, FusedTensorsSplitInTheSpecOrderAndOnlyTheTeachersQkRowsArePermuted) {
  for (const fs::path& dir : model_folders()) {
    const ModelConfig c = ModelConfig::load_folder(dir);
    SCOPED_TRACE(dir.string());
    for (const TensorEntry& e : tensor_table(c, TensorNaming::OpenLM)) {
      if (e.name.ends_with("in_proj.weight")) {
        ASSERT_EQ(e.parts.size(), 3u);
        EXPECT_EQ(std::make_tuple(e.parts[0].role, e.parts[1].role, e.parts[2].role),
                  std::make_tuple(TensorRole::Wq, TensorRole::Wk, TensorRole::Wv));
      }
      if (e.name.ends_with("w12.weight")) {
        ASSERT_EQ(e.parts.size(), 2u);
        EXPECT_EQ(e.parts[0].role, TensorRole::Gate);  // spec §2.4: the first half is the gate
      }
    }
    for (const TensorEntry& e : tensor_table(c, TensorNaming::Gguf)) {
      const TensorRole r = e.parts.front().role;
      const bool qk = r == TensorRole::Wq || r == TensorRole::Wk;
      const bool expect = qk && c.attention == AttentionKind::Softmax && c.rotary;
      EXPECT_EQ(e.rope_heads > 0, expect) << e.name;
    }
  }
}

}  // namespace
}  // namespace supra
