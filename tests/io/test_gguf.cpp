// GGUF: a written file reads back (metadata of every type, tensors of every supported type,
// alignment), through Checkpoint too; hostile files (truncated, huge counts, bad offsets,
// bad types) give a supra::Error naming the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "expect_error.h"
#include "io/gguf.h"
#include "memory_cap.h"
#include "supra/checkpoint.h"
#include "test_support.h"

namespace supra {
namespace {

using test::TempDir;

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::vector<TensorView> parse(const std::string& bytes, GgufMetadata* meta = nullptr) {
  return parse_gguf(as_bytes(bytes), "test.gguf", meta);
}

GgufMetadata sample_metadata() {
  return {{"general.architecture", GgufValue::string("llama")},
          {"u8", GgufValue::scalar(GgufType::Uint8, 200)},
          {"i8", GgufValue::scalar(GgufType::Int8, -5)},
          {"u16", GgufValue::scalar(GgufType::Uint16, 60000)},
          {"i16", GgufValue::scalar(GgufType::Int16, -30000)},
          {"u32", GgufValue::scalar(GgufType::Uint32, 4000000000)},
          {"i32", GgufValue::scalar(GgufType::Int32, -7)},
          {"u64", GgufValue::scalar(GgufType::Uint64, -1)},  // 2^64 - 1
          {"i64", GgufValue::scalar(GgufType::Int64, -1234567890123)},
          {"f32", GgufValue::f32(0.25f)},
          {"bool", GgufValue::scalar(GgufType::Bool, 1)},
          {"tokens", GgufValue::string_array({"<unk>", "", "▁hello"})},
          {"scores", GgufValue::f32_array({0.0f, -1.5f, 2.0f})},
          {"types", GgufValue::array(GgufType::Int32, {2, 3, 1})}};
}

// One tensor of each type, shapes including a 1-D and a 3-D one.
struct Sample {
  std::vector<GgufTensorInfo> infos = {{"a.f32", DType::F32, {3, 5}},
                                       {"b.f16", DType::F16, {7}},
                                       {"c.bf16", DType::BF16, {2, 3, 4}},
                                       {"d.q8", DType::Q8_0, {3, 64}},
                                       {"e.q4", DType::Q4_0, {2, 32}}};
  std::vector<std::vector<std::byte>> bytes;
  Sample() {
    std::mt19937 rng(3);
    for (const auto& t : infos) {
      std::int64_t rows = 1;
      for (std::size_t d = 0; d + 1 < t.shape.size(); ++d) rows *= t.shape[d];
      std::vector<std::byte> b(rows * dtype_row_bytes(t.dtype, t.shape.back()));
      for (auto& x : b) x = static_cast<std::byte>(rng() & 0x3F);  // keeps f16 scales finite
      bytes.push_back(std::move(b));
    }
  }
  void write(const std::filesystem::path& path, const GgufMetadata& meta) const {
    write_gguf(path, meta, infos, [&](std::size_t i) { return bytes[i]; });
  }
};

TEST(Gguf, RoundTripsMetadataAndTensors) {
  TempDir dir;
  const Sample sample;
  const GgufMetadata meta = sample_metadata();
  sample.write(dir.path() / "m.gguf", meta);
  const std::string file = test::read_file(dir.path() / "m.gguf");
  EXPECT_EQ(file.substr(0, 4), "GGUF");
  GgufMetadata back;
  const auto views = parse(file, &back);
  ASSERT_EQ(back.size(), meta.size());
  for (std::size_t i = 0; i < meta.size(); ++i) {
    EXPECT_EQ(back[i].first, meta[i].first);
    EXPECT_EQ(back[i].second.type, meta[i].second.type) << meta[i].first;
    EXPECT_EQ(back[i].second.elem, meta[i].second.elem) << meta[i].first;
    EXPECT_EQ(back[i].second.ints, meta[i].second.ints) << meta[i].first;
    EXPECT_EQ(back[i].second.floats, meta[i].second.floats) << meta[i].first;
    EXPECT_EQ(back[i].second.strings, meta[i].second.strings) << meta[i].first;
  }
  ASSERT_EQ(views.size(), sample.infos.size());
  for (std::size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].name, sample.infos[i].name);
    EXPECT_EQ(views[i].dtype, sample.infos[i].dtype);
    EXPECT_EQ(views[i].shape, sample.infos[i].shape);
    ASSERT_EQ(views[i].nbytes, sample.bytes[i].size());
    EXPECT_EQ(std::memcmp(views[i].data, sample.bytes[i].data(), views[i].nbytes), 0) << views[i].name;
    EXPECT_EQ((views[i].data - reinterpret_cast<const std::byte*>(file.data())) % 32, 0) << views[i].name;
  }
}

TEST(Gguf, HonoursGeneralAlignmentAndCheckpointReadsIt) {
  TempDir dir;
  const Sample sample;
  GgufMetadata meta = {{"general.alignment", GgufValue::scalar(GgufType::Uint32, 256)},
                       {"general.architecture", GgufValue::string("supra")}};
  sample.write(dir.path() / "model.gguf", meta);
  const std::string file = test::read_file(dir.path() / "model.gguf");
  for (const auto& v : parse(file)) EXPECT_EQ((v.data - reinterpret_cast<const std::byte*>(file.data())) % 256, 0);

  const Checkpoint ckpt = Checkpoint::open_folder(dir.path());
  EXPECT_EQ(ckpt.names().size(), 5u);
  EXPECT_EQ(ckpt.get("d.q8").dtype, DType::Q8_0);
  EXPECT_EQ(ckpt.metadata("general.architecture"), "supra");
  EXPECT_EQ(ckpt.metadata("general.alignment"), "256");
  EXPECT_FALSE(ckpt.metadata("absent").has_value());
  EXPECT_EQ(Checkpoint::open_file(dir.path() / "model.gguf").get("c.bf16").shape, (std::vector<std::int64_t>{2, 3, 4}));

  meta[0].second = GgufValue::scalar(GgufType::Uint32, 48);
  EXPECT_SUPRA_ERROR(sample.write(dir.path() / "bad.gguf", meta), "power of two");
}

TEST(Gguf, WriterChecksTensorSizes) {
  TempDir dir;
  EXPECT_SUPRA_ERROR(write_gguf(dir.path() / "x.gguf", {}, {{"t", DType::F32, {4}}},
                                [](std::size_t) { return std::vector<std::byte>(15); }),
                     "expected 16");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x.gguf"));
  EXPECT_SUPRA_ERROR(write_gguf(dir.path() / "y.gguf", {}, {{"t", DType::I32, {4}}},
                                [](std::size_t) { return std::vector<std::byte>(16); }),
                     "cannot store I32");
}

// Little builder for hand-made (and deliberately broken) files.
struct Raw {
  std::string s;
  Raw& u32(std::uint32_t v) { return put(v); }
  Raw& u64(std::uint64_t v) { return put(v); }
  Raw& str(const std::string& v) {
    u64(v.size());
    s += v;
    return *this;
  }
  template <typename T>
  Raw& put(T v) {
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Raw& header(std::uint64_t tensors, std::uint64_t kvs) { return u32(0x46554747).u32(3).u64(tensors).u64(kvs); }
  // A tensor info: 1-D of n elements.
  Raw& tensor(const std::string& name, std::uint64_t n, std::uint32_t type, std::uint64_t offset) {
    return str(name).u32(1).u64(n).u32(type).u64(offset);
  }
  Raw& pad() {
    s.resize((s.size() + 31) / 32 * 32, '\0');
    return *this;
  }
};

TEST(Gguf, HostileFilesGiveClearErrors) {
  EXPECT_SUPRA_ERROR(parse(""), "not a GGUF file");
  EXPECT_SUPRA_ERROR(parse("GGML0000"), "not a GGUF file");
  EXPECT_SUPRA_ERROR(parse(Raw().u32(0x46554747).u32(1).u64(0).u64(0).s), "version 1");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, std::uint64_t{1} << 60).s), "metadata count");
  EXPECT_SUPRA_ERROR(parse(Raw().header(std::uint64_t{1} << 62, 0).s), "tensor count");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("k").u32(8).u64(1000).s), "truncated");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("k").u32(9).u32(4).u64(std::uint64_t{1} << 61).s), "array length");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("k").u32(9).u32(9).u64(1).s), "arrays of arrays");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("k").u32(13).s), "not a GGUF value type");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("k").u32(7).put<std::uint8_t>(2).s), "neither 0 nor 1");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 2).str("k").u32(7).put<std::uint8_t>(1).str("k").u32(7).put<std::uint8_t>(0).s),
                     "appears twice");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("general.alignment").u32(4).u32(0).s), "power of two");
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("general.alignment").u32(5).u32(64).s), "uint32");

  auto one_tensor = [](std::uint64_t n, std::uint32_t type, std::uint64_t offset, std::size_t data) {
    Raw r;
    r.header(1, 0).tensor("t", n, type, offset).pad();
    r.s.append(data, '\0');
    return r.s;
  };
  EXPECT_EQ(parse(one_tensor(8, 0, 0, 32)).at(0).nbytes, 32u);  // the well-formed base case
  EXPECT_SUPRA_ERROR(parse(one_tensor(8, 0, 0, 31)), "outside the data section");
  EXPECT_SUPRA_ERROR(parse(one_tensor(8, 0, 32, 32)), "outside the data section");
  EXPECT_SUPRA_ERROR(parse(one_tensor(8, 0, 4, 64)), "not a multiple of the alignment");
  EXPECT_SUPRA_ERROR(parse(one_tensor(8, 0, std::uint64_t(-32), 64)), "outside the data section");
  EXPECT_SUPRA_ERROR(parse(one_tensor(std::uint64_t{1} << 62, 0, 0, 64)), "cannot fit");
  EXPECT_SUPRA_ERROR(parse(one_tensor(8, 3, 0, 64)), "GGML type 3 is not supported");
  EXPECT_SUPRA_ERROR(parse(one_tensor(8, 12345, 0, 64)), "GGML type 12345");
  EXPECT_SUPRA_ERROR(parse(one_tensor(48, 8, 0, 64)), "not whole blocks");
  EXPECT_SUPRA_ERROR(parse(Raw().header(1, 0).str("t").u32(5).s + std::string(64, '\0')), "5 dimensions");
  EXPECT_SUPRA_ERROR(parse(Raw().header(1, 0).str("t").u32(3).u64(1u << 31).u64(1u << 31).u64(1u << 31).u32(0).u64(0).s),
                     "overflow");
  EXPECT_SUPRA_ERROR(parse(Raw().header(2, 0).tensor("t", 8, 0, 0).tensor("t", 8, 0, 32).pad().s + std::string(64, '\0')),
                     "appears twice");
}

TEST(Gguf, LoadingStepsOverLargeArrays) {
  // A 32 MB u8 array was kept as 32M int64s (256 MB; 100 MB of array took 894 MB of RSS).
  constexpr std::uint64_t kElements = std::uint64_t{32} << 20;
  Raw r;
  r.header(1, 2).str("big").u32(9).u32(0).u64(kElements);
  r.s.append(kElements, '\x01');
  r.str("names").u32(9).u32(8).u64(2).str("a").str("bc");
  r.tensor("t", 8, 0, 0).pad();
  r.s.append(32, '\0');
  const std::string file = r.s;
  if (!test::kUnderAsan) {
    const auto outcome = test::run_with_memory_cap(std::uint64_t{64} << 20, [&] {
      const auto views = parse(file);
      return views.size() == 1 && views[0].nbytes == 32;
    });
    EXPECT_EQ(outcome, test::CappedOutcome::Ok) << test::describe(outcome);
  }
  // Asked for, the metadata holds the arrays.
  GgufMetadata meta;
  parse(file, &meta);
  EXPECT_EQ(gguf_find(meta, "big")->size(), kElements);
  EXPECT_EQ(gguf_find(meta, "names")->strings, (std::vector<std::string>{"a", "bc"}));
  // Skipped elements are still checked for presence.
  EXPECT_SUPRA_ERROR(parse(Raw().header(0, 1).str("k").u32(9).u32(8).u64(2).str("a").u64(50).s), "truncated");
}

TEST(Gguf, MillionsOfKeysAreRefused) {
  // 2M one-byte bool keys (~32 MB) took 711 MB; real files hold a few dozen keys.
  Raw r;
  r.header(0, 70000);
  for (int i = 0; i < 70000; ++i) r.str("k" + std::to_string(i)).u32(7).put<std::uint8_t>(1);
  EXPECT_SUPRA_ERROR(parse(r.s), "metadata count 70000 exceeds the limit of 65536 keys");
}

TEST(Gguf, EveryTruncationAndManyCorruptionsAreRejectedOrRead) {
  TempDir dir;
  const Sample sample;
  sample.write(dir.path() / "m.gguf", sample_metadata());
  const std::string good = test::read_file(dir.path() / "m.gguf");
  // The padding after the last tensor is optional: only shorter prefixes lose data.
  std::size_t data_end = 0;
  for (const TensorView& v : parse(good))
    data_end = std::max<std::size_t>(data_end, v.data + v.nbytes - reinterpret_cast<const std::byte*>(good.data()));
  for (std::size_t n = 0; n < data_end; ++n)
    EXPECT_THROW(parse(good.substr(0, n)), Error) << "prefix of " << n << " bytes";
  std::mt19937 rng(5);
  std::string bad = good;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t pos = rng() % 400;  // the header and tensor infos
    const char old = bad[pos];
    bad[pos] = static_cast<char>(rng());
    try {
      for (const TensorView& v : parse(bad)) ASSERT_LE(v.data + v.nbytes, reinterpret_cast<const std::byte*>(bad.data()) + bad.size());
    } catch (const Error&) {
    }
    bad[pos] = old;
  }
}

}  // namespace
}  // namespace supra
