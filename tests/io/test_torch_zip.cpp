#include <gtest/gtest.h>

#include <cstring>

#include "file_builders.h"
#include "expect_error.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/torch_zip.h"
#include "memory_cap.h"
#include "supra/checkpoint.h"
#include "test_support.h"

namespace supra {
namespace {

namespace fs = std::filesystem;
using test::kProto2;
using test::kStop;
using test::le;
using test::p_global;
using test::p_int;
using test::p_str;
using test::p_tensor;

// The safetensors file holding the same tensors as `bin`: its sibling, or that of the folder
// without the "-bin" suffix.
fs::path reference_for(const fs::path& bin) {
  const fs::path folder = bin.parent_path();
  if (fs::exists(folder / "model.safetensors")) return folder / "model.safetensors";
  std::string name = folder.filename().string();
  if (name.ends_with("-bin")) name.resize(name.size() - 4);
  return folder.parent_path() / name / "model.safetensors";
}

void expect_identical(const fs::path& bin) {
  SCOPED_TRACE(bin.string());
  const TensorFile got = open_torch_zip(bin);
  const TensorFile want = open_safetensors(reference_for(bin));
  ASSERT_EQ(got.tensors().size(), want.tensors().size());
  ASSERT_FALSE(got.tensors().empty());
  for (const TensorView& w : want.tensors()) {
    const TensorView* g = got.find(w.name);
    ASSERT_NE(g, nullptr) << w.name;
    EXPECT_EQ(g->dtype, w.dtype) << w.name;
    EXPECT_EQ(g->shape, w.shape) << w.name;
    ASSERT_EQ(g->nbytes, w.nbytes) << w.name;
    EXPECT_EQ(std::memcmp(g->data, w.data, w.nbytes), 0) << w.name;
  }
}

std::vector<fs::path> bins_under(const fs::path& golden) {
  std::vector<fs::path> bins;
  for (const auto& entry : fs::directory_iterator(golden))
    if (fs::exists(entry.path() / "pytorch_model.bin"))
      bins.push_back(entry.path() / "pytorch_model.bin");
  std::sort(bins.begin(), bins.end());
  return bins;
}

TEST(TorchZip, RepoBinsMatchTheirSafetensors) {
  const auto bins = bins_under(test::data_dir() / "golden");
  EXPECT_GE(bins.size(), 2u);  // supra_gqa-bin (OrderedDict) and supra_gqa-bf16 (plain dict)
  for (const fs::path& bin : bins) expect_identical(bin);
  // The BF16 flavour really is BF16.
  EXPECT_EQ(open_torch_zip(test::data_dir() / "golden/supra_gqa-bf16/pytorch_model.bin")
                .tensors()[0]
                .dtype,
            DType::BF16);
}

TEST(TorchZip, SharedFixtureBinsMatchTheirSafetensors) {
  const auto shared = test::shared_dir();
  if (!shared) GTEST_SKIP() << "../shared/fixtures not present";
  const auto bins = bins_under(*shared / "fixtures" / "golden");
  EXPECT_FALSE(bins.empty());
  for (const fs::path& bin : bins) expect_identical(bin);
}

TEST(TorchZip, PickleOrderIsKept) {
  // The .bin holds tensors in parameter order, not sorted; names() of a checkpoint sorts.
  const TensorFile f = open_torch_zip(test::data_dir() / "golden/supra_gqa-bin/pytorch_model.bin");
  EXPECT_EQ(f.tensors().front().name, "model.tok_embeddings.weight");
}

class TorchZipMalformed : public ::testing::Test {
 protected:
  fs::path write(const std::string& bytes, const std::string& name = "model.bin") {
    const fs::path path = dir_.path() / name;
    test::write_file(path, bytes);
    return path;
  }
  // A valid state dict {"w": 2x2 float tensor} with the given storage bytes.
  static std::string state_dict_pickle(const std::string& tensor) {
    return kProto2 + "}(" + p_str("w") + tensor + "u" + kStop;
  }
  test::TempDir dir_;
};

TEST_F(TorchZipMalformed, BuiltZipLoads) {
  const std::string floats =
      le(0x3F800000u, 4) + le(0x40000000u, 4) + le(0x40400000u, 4) + le(0x40800000u, 4);
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64);
    const std::string zip =
        test::make_zip({{"archive/data.pkl", state_dict_pickle(p_tensor("0", 4, {2, 2}, {2, 1}))},
                        {"archive/byteorder", "little"},
                        {"archive/data/0", floats}},
                       zip64);
    const TensorFile f = open_torch_zip(write(zip));
    ASSERT_EQ(f.tensors().size(), 1u);
    EXPECT_EQ(f.tensors()[0].shape_string(), "[2, 2]");
    EXPECT_EQ(to_f32(f.tensors()[0]), (std::vector<float>{1, 2, 3, 4}));
  }
  // A view at an offset into a shared storage, and a size-1 dimension with an odd stride.
  const std::string pickle = state_dict_pickle(p_tensor("0", 4, {1, 2}, {7, 1}, 2));
  const TensorFile f = open_torch_zip(write(test::make_torch_zip(pickle, {{"0", floats}})));
  EXPECT_EQ(to_f32(f.tensors()[0]), (std::vector<float>{3, 4}));
}

TEST_F(TorchZipMalformed, TruncatedBinsAreErrors) {
  const std::string good =
      test::read_file(test::data_dir() / "golden/supra_gqa-bin/pytorch_model.bin");
  for (std::size_t size : {std::size_t{0}, std::size_t{3}, std::size_t{21}, std::size_t{100},
                           good.size() / 2, good.size() - 23, good.size() - 1}) {
    SCOPED_TRACE(size);
    const fs::path path = write(good.substr(0, size));
    EXPECT_SUPRA_ERROR(open_torch_zip(path), path.string());
  }
}

TEST_F(TorchZipMalformed, EntriesOutsideTheArchiveAreErrors) {
  const std::string zip = test::make_zip({{"a/data.pkl", kProto2 + "}."}});
  std::uint32_t cd_offset = 0;
  std::memcpy(&cd_offset, zip.data() + zip.size() - 6, 4);
  std::string big = zip;  // compressed and uncompressed sizes of 2 GB
  big.replace(cd_offset + 20, 8, le(0x7FFFFFFFu, 4) + le(0x7FFFFFFFu, 4));
  EXPECT_SUPRA_ERROR(open_torch_zip(write(big)), "lie outside the archive");
  std::string far = zip;  // local header offset past the end
  far.replace(cd_offset + 42, 4, le(0x10000000u, 4));
  EXPECT_SUPRA_ERROR(open_torch_zip(write(far)), "no local header at offset 268435456");
  std::string directory = zip;  // directory offset past the end
  directory.replace(zip.size() - 6, 4, le(0x10000000u, 4));
  EXPECT_SUPRA_ERROR(open_torch_zip(write(directory)), "central directory");
}

TEST_F(TorchZipMalformed, CompressedEntryIsAnError) {
  const std::string zip =
      test::make_zip({{"archive/data.pkl", state_dict_pickle(p_tensor("0", 4, {4}, {1}))},
                      {"archive/data/0", std::string(16, '\0'), 8}});
  EXPECT_SUPRA_ERROR(open_torch_zip(write(zip)), "'archive/data/0' is compressed (method 8)");
}

TEST_F(TorchZipMalformed, ForeignGlobalsAreRejected) {
  const std::string os_system =
      kProto2 + p_global("os", "system") + p_str("echo pwned") + "\x85R" + kStop;
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_torch_zip(os_system, {}))),
                     "rejected global 'os.system'");
  const std::string eval = kProto2 + p_global("builtins", "eval") + p_str("1+1") + "\x85R" + kStop;
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_torch_zip(eval, {}))),
                     "rejected global 'builtins.eval'");
  // STACK_GLOBAL is checked too, and a storage-like name in the wrong module is not a storage.
  const std::string posix = kProto2 + p_str("posix") + p_str("system") + "\x93" + kStop;
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_torch_zip(posix, {}))),
                     "rejected global 'posix.system'");
  const std::string fake = kProto2 + p_global("os", "FloatStorage") + kStop;
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_torch_zip(fake, {}))),
                     "rejected global 'os.FloatStorage'");
  // Rejected when read: the error comes before the malformed bytes that follow.
  const std::string early = kProto2 + p_global("subprocess", "Popen") + "\xff\xff";
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_torch_zip(early, {}))), "subprocess.Popen");
}

TEST_F(TorchZipMalformed, BadPicklesAreErrors) {
  auto load = [&](const std::string& pickle) {
    return open_torch_zip(write(test::make_torch_zip(pickle, {{"0", std::string(16, '\0')}})));
  };
  EXPECT_SUPRA_ERROR(load(kProto2 + "I1\n" + kStop),
                     "unsupported pickle opcode 0x49 'I' at byte 2");
  EXPECT_SUPRA_ERROR(load(kProto2 + "\xff"), "opcode 0xff");
  EXPECT_SUPRA_ERROR(load(kProto2 + "]" + kStop), "holds a list, expected a dict");
  EXPECT_SUPRA_ERROR(load(kProto2 + "}" + p_str("w") + p_int(3) + "s" + kStop),
                     "'w' is an int, expected a tensor");
  EXPECT_SUPRA_ERROR(load(kProto2 + "}"), "without STOP");
  EXPECT_SUPRA_ERROR(load(kProto2 + "X" + le(1000, 4) + "abc"), "truncated pickle");
  EXPECT_SUPRA_ERROR(load(kProto2 + "R" + kStop), "stack underflow");
  EXPECT_SUPRA_ERROR(load(kProto2 + "t" + kStop), "no MARK");
  EXPECT_SUPRA_ERROR(load(kProto2 + "h\x05" + kStop), "memo index 5 was never stored");
  EXPECT_SUPRA_ERROR(load(kProto2 + "]r" + le(0xFFFFFFFFu, 4) + kStop), "out of range");
  EXPECT_SUPRA_ERROR(load(kProto2 + p_global("torch", "FloatStorage") + ")R" + kStop),
                     "not allowed");
  EXPECT_SUPRA_ERROR(
      load(kProto2 + p_global("collections", "OrderedDict") + p_int(1) + "\x85R" + kStop),
      "OrderedDict() with arguments");
  // Duplicate keys, non-contiguous strides, storages too small or missing.
  const std::string t = p_tensor("0", 4, {4}, {1});
  EXPECT_SUPRA_ERROR(load(kProto2 + "}(" + p_str("w") + t + p_str("w") + t + "u" + kStop),
                     "appears twice");
  EXPECT_SUPRA_ERROR(load(state_dict_pickle(p_tensor("0", 4, {2, 2}, {1, 2}))), "not contiguous");
  EXPECT_SUPRA_ERROR(load(state_dict_pickle(p_tensor("0", 8, {8}, {1}))),
                     "needs more than the 16 bytes");
  EXPECT_SUPRA_ERROR(load(state_dict_pickle(p_tensor("0", 4, {4}, {1}, 1))),
                     "overruns its storage");
  EXPECT_SUPRA_ERROR(load(state_dict_pickle(p_tensor("7", 4, {4}, {1}))),
                     "'archive/data/7' is missing");
}

TEST_F(TorchZipMalformed, ArchiveStructureErrors) {
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_zip({{"x/y.txt", "hi"}}))),
                     "no '<folder>/data.pkl'");
  EXPECT_SUPRA_ERROR(open_torch_zip(write(test::make_zip(
                         {{"a/data.pkl", kProto2 + "}."}, {"b/data.pkl", kProto2 + "}."}}))),
                     "two pickles");
  EXPECT_SUPRA_ERROR(open_torch_zip(write(
                         test::make_zip({{"a/data.pkl", kProto2 + "}."}, {"a/byteorder", "big"}}))),
                     "big-endian");
  EXPECT_SUPRA_ERROR(
      open_torch_zip(write(test::make_zip({{"a/data.pkl", "x"}, {"a/data.pkl", "y"}}))),
      "duplicate entry");
  // A directory that claims more entries than it has room for.
  std::string zip = test::make_zip({{"a/data.pkl", kProto2 + "}."}});
  zip[zip.size() - 12] = '\x7f';
  EXPECT_SUPRA_ERROR(open_torch_zip(write(zip)), "central directory");
  // An empty state dict is fine.
  EXPECT_TRUE(
      open_torch_zip(write(test::make_zip({{"a/data.pkl", kProto2 + "}."}}))).tensors().empty());
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(PickleMemory, NestedTuplesStayWithinABudget) {
  // 10 MB of TUPLE1 opcodes (ten million nested tuples) took 1.98 GB and 9.7 s; 4M of them
  // now take about 32 bytes each.
  const std::string pickle = kProto2 + "N" + std::string(4u << 20, '\x85') + kStop;
  if (test::kUnderAsan) GTEST_SKIP() << "address-space caps do not apply under AddressSanitizer";
  const auto outcome = test::run_with_memory_cap(std::uint64_t{256} << 20, [&] {
    try {
      unpickle_state_dict(bytes_of(pickle), "tuples.pkl");
    } catch (const Error& e) {
      return std::string(e.what()).find("the pickle holds a tuple, expected a dict") != std::string::npos;
    }
    return false;
  });
  EXPECT_EQ(outcome, test::CappedOutcome::Ok) << test::describe(outcome);
}

TEST(PickleMemory, ManyTensorsStayWithinABudget) {
  // A state dict of 100k tensors (a 19 MB pickle, all on one storage): the old node layout
  // needed about 3 KB per entry.
  constexpr int kTensors = 100000;
  std::string pickle = kProto2 + "}(";
  for (int i = 0; i < kTensors; ++i) pickle += p_str("layer." + std::to_string(i) + ".weight") + p_tensor("0", 4, {2, 2}, {2, 1});
  pickle += "u" + kStop;
  if (test::kUnderAsan) GTEST_SKIP() << "address-space caps do not apply under AddressSanitizer";
  const auto outcome = test::run_with_memory_cap(std::uint64_t{160} << 20, [&] {
    const std::vector<PickledTensor> tensors = unpickle_state_dict(bytes_of(pickle), "many.pkl");
    return tensors.size() == kTensors && tensors.back().name == "layer.99999.weight" &&
           tensors.back().size == std::vector<std::int64_t>{2, 2} && tensors.back().storage_key == "0";
  });
  EXPECT_EQ(outcome, test::CappedOutcome::Ok) << test::describe(outcome);
}

TEST(PickleMemory, MemoIndicesAreBoundedByThePickle) {
  EXPECT_SUPRA_ERROR(unpickle_state_dict(bytes_of(kProto2 + "}r" + le(1000, 4) + kStop), "m.pkl"),
                     "memo index 1000 out of range");
  EXPECT_SUPRA_ERROR(unpickle_state_dict(bytes_of(kProto2 + "}h\x05" + kStop), "m.pkl"), "memo index 5 was never stored");
  // MEMOIZE numbers entries as Python does: after BINPUT 0 the next index is 1.
  const std::string memoize = kProto2 + "}q" + le(0, 1) + "\x94(" + p_str("w") + p_tensor("0", 4, {4}, {1}) + "uh\x01" + "\x85" + kStop;
  EXPECT_SUPRA_ERROR(unpickle_state_dict(bytes_of(memoize), "m.pkl"), "the pickle holds a tuple");
}

}  // namespace
}  // namespace supra
