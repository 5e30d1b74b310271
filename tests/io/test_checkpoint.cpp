#include <gtest/gtest.h>

#include "expect_error.h"
#include "supra/checkpoint.h"
#include "test_support.h"

namespace supra {
namespace {

namespace fs = std::filesystem;

TEST(Checkpoint, EveryGoldenFolderLoads) {
  int folders = 0;
  for (const auto& entry : fs::directory_iterator(test::data_dir() / "golden")) {
    if (!entry.is_directory()) continue;
    SCOPED_TRACE(entry.path().string());
    const Checkpoint ckpt = Checkpoint::open_folder(entry.path());
    const auto names = ckpt.names();
    ASSERT_FALSE(names.empty());
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
    EXPECT_TRUE(ckpt.has("model.tok_embeddings.weight"));
    const TensorView& emb = ckpt.get("model.tok_embeddings.weight");
    EXPECT_EQ(emb.shape.size(), 2u);
    EXPECT_EQ(emb.nbytes, static_cast<std::size_t>(emb.numel()) * dtype_size(emb.dtype));
    ++folders;
  }
  EXPECT_GE(folders, 6);
}

TEST(Checkpoint, PrefersSafetensorsAndFallsBackToBin) {
  const fs::path golden = test::data_dir() / "golden";
  EXPECT_NE(Checkpoint::open_folder(golden / "supra_gqa-bf16").describe().find("model.safetensors"),
            std::string::npos);
  EXPECT_NE(Checkpoint::open_folder(golden / "supra_gqa-bin").describe().find("pytorch_model.bin"),
            std::string::npos);
}

TEST(Checkpoint, OpenFileSniffsTheFormat) {
  test::TempDir dir;
  const fs::path golden = test::data_dir() / "golden";
  fs::copy_file(golden / "supra_gqa-bin/pytorch_model.bin", dir.path() / "weights.dat");
  fs::copy_file(golden / "supra_gqa/model.safetensors", dir.path() / "weights.other");
  const Checkpoint zip = Checkpoint::open_file(dir.path() / "weights.dat");
  const Checkpoint st = Checkpoint::open_file(dir.path() / "weights.other");
  EXPECT_EQ(zip.names(), st.names());
}

TEST(Checkpoint, ShardedBinFolderLoads) {
  // A single-shard pytorch_model.bin.index.json, as save_pretrained writes above its shard size.
  test::TempDir dir;
  const fs::path golden = test::data_dir() / "golden/supra_gqa-bin/pytorch_model.bin";
  fs::copy_file(golden, dir.path() / "pytorch_model-00001-of-00001.bin");
  const Checkpoint single = Checkpoint::open_file(golden);
  std::string index = R"({"weight_map":{)";
  for (const std::string& name : single.names())
    index += "\"" + name + "\":\"pytorch_model-00001-of-00001.bin\",";
  index.back() = '}';
  test::write_file(dir.path() / "pytorch_model.bin.index.json", index + "}");
  const Checkpoint sharded = Checkpoint::open_folder(dir.path());
  EXPECT_EQ(sharded.names(), single.names());
  EXPECT_NE(sharded.describe().find("pytorch_model.bin.index.json (1 shards)"), std::string::npos);
  EXPECT_EQ(to_f32(sharded.get("model.output.weight")), to_f32(single.get("model.output.weight")));
}

TEST(Checkpoint, MissingTensorNamesTensorAndFile) {
  const Checkpoint ckpt = Checkpoint::open_folder(test::data_dir() / "golden/supra_gqa");
  EXPECT_FALSE(ckpt.has("lm_head.weight"));
  EXPECT_SUPRA_ERROR((void)ckpt.get("lm_head.weight"), "tensor 'lm_head.weight' not found in");
  EXPECT_SUPRA_ERROR((void)ckpt.get("lm_head.weight"), "supra_gqa/model.safetensors");
}

TEST(Checkpoint, MissingOrEmptyFolderIsAnError) {
  test::TempDir dir;
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path() / "nope"), "does not exist");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()),
                     "no weights file in " + dir.path().string());
  test::write_file(dir.path() / "file", "x");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path() / "file"), "is not a folder");
  EXPECT_SUPRA_ERROR(Checkpoint::open_file(dir.path() / "missing.safetensors"),
                     "No such file or directory");
}

TEST(Checkpoint, MovedCheckpointStillServesViews) {
  Checkpoint a = Checkpoint::open_folder(test::data_dir() / "golden/supra_gqa");
  const TensorView* before = &a.get("model.output.weight");
  Checkpoint b = std::move(a);
  EXPECT_EQ(&b.get("model.output.weight"), before);
  EXPECT_FALSE(to_f32(b.get("model.output.weight")).empty());
}

}  // namespace
}  // namespace supra
