#include <gtest/gtest.h>

#include <cstring>

#include "file_builders.h"
#include "expect_error.h"
#include "io/safetensors.h"
#include "supra/checkpoint.h"
#include "test_support.h"

namespace supra {
namespace {

namespace fs = std::filesystem;
using test::le;
using test::make_safetensors;

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::vector<TensorView> parse(const std::string& file) {
  return parse_safetensors(as_bytes(file), "test.safetensors", nullptr);
}

TEST(Safetensors, ParsesAValidFileWithMetadata) {
  const std::string data = le(0x3F800000u, 4) + le(0x40000000u, 4) + le(7, 8);
  const std::string file = make_safetensors(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]}})",
      data);
  std::map<std::string, std::string> metadata;
  const auto views = parse_safetensors(as_bytes(file), "x", &metadata);
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(metadata.at("format"), "pt");
  EXPECT_EQ(views[0].name, "a");
  EXPECT_EQ(to_f32(views[0]), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(views[1].shape, (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(to_i64(views[1]), (std::vector<std::int64_t>{7}));
}

TEST(Safetensors, GoldenFilesLoad) {
  for (const char* name : {"supra_gqa", "supra_mha_qknorm", "supra_nope_wide", "mistral_softmax"}) {
    SCOPED_TRACE(name);
    const TensorFile golden =
        open_safetensors(test::data_dir() / "golden" / name / "golden.safetensors");
    const TensorView* ids = golden.find("input_ids_short");
    ASSERT_NE(ids, nullptr);
    EXPECT_EQ(ids->dtype, DType::I64);
    EXPECT_EQ(ids->shape, (std::vector<std::int64_t>{2, 37}));
    EXPECT_EQ(to_i64(*ids)[0], 1);  // BOS
    const TensorView* logits = golden.find("logits_parallel_short");
    ASSERT_NE(logits, nullptr);
    EXPECT_EQ(logits->dtype, DType::F32);
    EXPECT_EQ(logits->shape[0], 2);
    EXPECT_EQ(to_f32(*logits).size(), static_cast<std::size_t>(logits->numel()));
  }
}

TEST(Safetensors, WriterRoundTrips) {
  test::TempDir dir;
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 5.0f, 6.0f};
  const std::vector<std::uint16_t> b = {f32_to_bf16(1.0f), f32_to_bf16(-0.5f)};
  const fs::path path = dir.path() / "w.safetensors";
  save_safetensors(path,
                   {{"layer.a", DType::F32, {2, 3}, std::as_bytes(std::span(a))},
                    {"b", DType::BF16, {2}, std::as_bytes(std::span(b))},
                    {"empty", DType::F32, {0, 4}, {}}},
                   {{"format", "pt"}});
  const std::string raw = test::read_file(path);
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, raw.data(), 8);
  EXPECT_EQ(header_len % 8, 0u) << "header must be padded to a multiple of 8";
  EXPECT_EQ(raw.size(), 8 + header_len + a.size() * 4 + b.size() * 2);

  const TensorFile file = open_safetensors(path);
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors()[0].name, "layer.a");  // written order kept
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(to_f32(*file.find("layer.a")), a);
  EXPECT_EQ(file.find("layer.a")->shape_string(), "[2, 3]");
  EXPECT_EQ(to_f32(*file.find("b")), (std::vector<float>{1.0f, -0.5f}));
  EXPECT_EQ(file.find("empty")->nbytes, 0u);
}

TEST(Safetensors, WriterRejectsBadInput) {
  test::TempDir dir;
  const std::vector<float> a = {1.0f, 2.0f};
  EXPECT_SUPRA_ERROR(save_safetensors(dir.path() / "x.safetensors",
                                      {{"a", DType::F32, {3}, std::as_bytes(std::span(a))}}),
                     "needs 12 bytes, got 8");
  EXPECT_SUPRA_ERROR(save_safetensors(dir.path() / "x.safetensors",
                                      {{"a", DType::F32, {2}, std::as_bytes(std::span(a))},
                                       {"a", DType::F32, {2}, std::as_bytes(std::span(a))}}),
                     "duplicate");
  EXPECT_FALSE(fs::exists(dir.path() / "x.safetensors"));
}

TEST(Safetensors, TruncatedFilesAreErrors) {
  const std::string good = test::read_file(test::data_dir() / "golden/supra_gqa/model.safetensors");
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, good.data(), 8);
  test::TempDir dir;
  const struct {
    std::size_t size;
    const char* message;
  } cuts[] = {
      {0, "too short"},
      {5, "too short"},
      {8 + 10, "exceeds the file size"},                   // inside the header
      {8 + header_len - 1, "exceeds the file size"},       // last header byte missing
      {8 + header_len + 100, "outside the data section"},  // inside the data
      {good.size() - 1, "outside the data section"},
  };
  for (const auto& cut : cuts) {
    SCOPED_TRACE(cut.size);
    const fs::path path = dir.path() / "cut.safetensors";
    test::write_file(path, good.substr(0, cut.size));
    EXPECT_SUPRA_ERROR(open_safetensors(path), cut.message);
    EXPECT_SUPRA_ERROR(open_safetensors(path), path.string());
  }
}

TEST(Safetensors, MalformedHeadersAreErrors) {
  const std::string f32x2 = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::string data(8, '\0');
  EXPECT_SUPRA_ERROR(parse(le(1ull << 40, 8) + "{}"), "100 MB");
  EXPECT_SUPRA_ERROR(parse(le(1000, 8) + "{}"), "exceeds the file size");
  EXPECT_SUPRA_ERROR(parse(make_safetensors("{\"a\":", data)), "invalid JSON");
  EXPECT_SUPRA_ERROR(parse(make_safetensors("[1,2]", data)), "not a JSON object");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data)),
      "outside the data section");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[6,2]}})", data)),
      "outside the data section");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data)),
      "needs 12 bytes but data_offsets span 8");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", data)),
      "unknown dtype \"Q4\"");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)),
      "non-negative");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", data)),
      "non-negative");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(
          R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})", data)),
      "overflows");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", data)),
      "data_offsets");
  EXPECT_SUPRA_ERROR(parse(make_safetensors(R"({"a":{"dtype":"F32","shape":[2]}})", data)),
                     "no \"data_offsets\"");
  EXPECT_SUPRA_ERROR(parse(make_safetensors(R"({"a":[1]})", data)), "not an object");
  EXPECT_SUPRA_ERROR(
      parse(make_safetensors(R"({"__metadata__":{"k":1},"a":{)" + f32x2 + "}}", data)),
      "__metadata__");
  EXPECT_NO_THROW(parse(make_safetensors(R"({"a":{)" + f32x2 + "}}", data)));
}

TEST(Safetensors, DeeplyNestedHeadersAreErrors) {
  // A ~200 KB header nesting 100k levels in any field crashed the parser (SIGSEGV).
  const std::string deep = std::string(100000, '[') + "1" + std::string(100000, ']');
  for (const std::string& header :
       {R"({"a":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,8]}})",
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + deep + "}}",
        R"({"__metadata__":)" + deep + "}"})
    EXPECT_SUPRA_ERROR(parse(make_safetensors(header, std::string(8, '\0'))),
                       "safetensors header: JSON nested deeper than 64 levels");
}

TEST(Safetensors, BadValuesAreQuotedShort) {
  std::string shape = "[";
  for (int i = 0; i < 100000; ++i) shape += "1,";
  shape += "-1]";
  try {
    parse(make_safetensors(R"({"a":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,4]}})",
                           std::string(4, '\0')));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a non-negative integer"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ManyEntriesParseInFileOrder) {
  // 200k entries (the parse was quadratic: 21 s for these); names run against the data order,
  // so the views must come back sorted by offset, not by name.
  constexpr int kEntries = 200000;
  std::string header = "{";
  for (int i = 0; i < kEntries; ++i) {
    const int slot = kEntries - 1 - i;
    header += (i ? ",\"t" : "\"t") + std::to_string(i) + R"(":{"dtype":"U8","shape":[1],"data_offsets":[)" +
              std::to_string(slot) + "," + std::to_string(slot + 1) + "]}";
  }
  header += "}";
  std::string data(kEntries, '\0');
  for (int i = 0; i < kEntries; ++i) data[static_cast<std::size_t>(i)] = static_cast<char>(i % 251);
  const std::string file = make_safetensors(header, data);
  const auto views = parse(file);
  ASSERT_EQ(views.size(), static_cast<std::size_t>(kEntries));
  for (int slot = 0; slot < kEntries; slot += 9973) {
    EXPECT_EQ(views[static_cast<std::size_t>(slot)].name, "t" + std::to_string(kEntries - 1 - slot));
    EXPECT_EQ(static_cast<unsigned char>(*views[static_cast<std::size_t>(slot)].data), slot % 251);
  }
}

TEST(Safetensors, ShardedFolderLoads) {
  test::TempDir dir;
  const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6}, c = {7};
  save_safetensors(dir.path() / "model-00001-of-00002.safetensors",
                   {{"a", DType::F32, {2, 2}, std::as_bytes(std::span(a))},
                    {"b", DType::F32, {2}, std::as_bytes(std::span(b))}});
  save_safetensors(dir.path() / "model-00002-of-00002.safetensors",
                   {{"c", DType::F32, {1}, std::as_bytes(std::span(c))}});
  const std::string index = R"({"metadata":{"total_size":28},"weight_map":{)"
                            R"("a":"model-00001-of-00002.safetensors",)"
                            R"("b":"model-00001-of-00002.safetensors",)"
                            R"("c":"model-00002-of-00002.safetensors"}})";
  test::write_file(dir.path() / "model.safetensors.index.json", index);

  const Checkpoint ckpt = Checkpoint::open_folder(dir.path());
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(to_f32(ckpt.get("a")), a);
  EXPECT_EQ(to_f32(ckpt.get("b")), b);
  EXPECT_EQ(to_f32(ckpt.get("c")), c);
  EXPECT_NE(ckpt.describe().find("2 shards"), std::string::npos) << ckpt.describe();
  EXPECT_SUPRA_ERROR((void)ckpt.get("d"), "'d'");

  // A tensor listed for a shard that does not hold it.
  test::write_file(dir.path() / "model.safetensors.index.json",
                   R"({"weight_map":{"a":"model-00002-of-00002.safetensors",)"
                   R"("b":"model-00001-of-00002.safetensors"}})");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()), "'a' is listed in shard model-00002");
  // A listed tensor that no shard holds.
  test::write_file(dir.path() / "model.safetensors.index.json",
                   R"({"weight_map":{"zz":"model-00001-of-00002.safetensors"}})");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()), "'zz'");
  // A shard outside the folder.
  test::write_file(dir.path() / "model.safetensors.index.json",
                   R"({"weight_map":{"a":"../model-00001-of-00002.safetensors"}})");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()), "not a file name in the same folder");
  // A missing shard.
  test::write_file(dir.path() / "model.safetensors.index.json",
                   R"({"weight_map":{"a":"model-00003-of-00002.safetensors"}})");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()), "model-00003-of-00002.safetensors");
  // No weight_map.
  test::write_file(dir.path() / "model.safetensors.index.json", R"({"metadata":{}})");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()), "weight_map");
}

TEST(Safetensors, DuplicateTensorAcrossShardsIsAnError) {
  test::TempDir dir;
  const std::vector<float> a = {1};
  save_safetensors(dir.path() / "s1.safetensors",
                   {{"a", DType::F32, {1}, std::as_bytes(std::span(a))}});
  save_safetensors(dir.path() / "s2.safetensors",
                   {{"a", DType::F32, {1}, std::as_bytes(std::span(a))}});
  test::write_file(dir.path() / "model.safetensors.index.json",
                   R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  EXPECT_SUPRA_ERROR(Checkpoint::open_folder(dir.path()), "appears in both");
}

}  // namespace
}  // namespace supra
