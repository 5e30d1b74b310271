#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <stdexcept>

#include "expect_error.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "supra/npy.h"
#include "test_support.h"

namespace supra {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(MappedFile, MapsFilesAndReportsErrors) {
  test::TempDir dir;
  test::write_file(dir.path() / "a", "hello");
  MappedFile a(dir.path() / "a");
  ASSERT_EQ(a.bytes().size(), 5u);
  EXPECT_EQ(static_cast<char>(a.bytes()[4]), 'o');
  MappedFile moved = std::move(a);
  EXPECT_EQ(moved.bytes().size(), 5u);

  test::write_file(dir.path() / "empty", "");
  EXPECT_TRUE(MappedFile(dir.path() / "empty").bytes().empty());
  EXPECT_SUPRA_ERROR(MappedFile(dir.path() / "missing"),
                     (dir.path() / "missing").string() + ": No such file");
  EXPECT_SUPRA_ERROR(MappedFile(dir.path()), "not a regular file");
}

TEST(AtomicFile, ReplacesTheFile) {
  test::TempDir dir;
  const fs::path path = dir.path() / "out.txt";
  test::write_file(path, "old");
  write_file_atomically(path, [](std::ostream& out) { out << "new contents"; });
  EXPECT_EQ(test::read_file(path), "new contents");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.txt"});
}

TEST(AtomicFile, ThrowingWriterLeavesOldFileAndNoTemp) {
  test::TempDir dir;
  const fs::path path = dir.path() / "out.txt";
  test::write_file(path, "old");
  EXPECT_THROW(write_file_atomically(path,
                                     [](std::ostream& out) {
                                       out << std::string(1 << 20, 'x');  // some bytes hit the disk
                                       throw std::runtime_error("writer failed");
                                     }),
               std::runtime_error);
  EXPECT_EQ(test::read_file(path), "old");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.txt"});
}

TEST(AtomicFile, WriteFailureIsAnErrorAndLeavesOldFile) {
  // A file size limit makes write() fail like a full disk does (EFBIG instead of ENOSPC).
  test::TempDir dir;
  const fs::path path = dir.path() / "out.bin";
  test::write_file(path, "old");
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  std::string message;
  try {
    write_file_atomically(path, [](std::ostream& out) { out << std::string(1 << 20, 'x'); });
  } catch (const Error& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_NE(message.find("cannot write " + path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(test::read_file(path), "old");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, MissingDirectoryIsAnError) {
  test::TempDir dir;
  EXPECT_SUPRA_ERROR(write_file_atomically(dir.path() / "no/such/x", [](std::ostream&) {}),
                     "cannot write " + (dir.path() / "no/such/x").string());
}

// Renaming over a device or a fifo would replace it; as root `-o /dev/null` would destroy it.
TEST(AtomicFile, RefusesToReplaceWhatIsNotARegularFile) {
  test::TempDir dir;
  const auto fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_SUPRA_ERROR(write_file_atomically(fifo, [](std::ostream& o) { o << "x"; }), "not a regular file");
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  const auto sub = dir.path() / "sub";
  std::filesystem::create_directory(sub);
  EXPECT_SUPRA_ERROR(write_file_atomically(sub, [](std::ostream& o) { o << "x"; }), "not a regular file");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 2);  // no temp file left
}

TEST(Npy, RoundTripsAndMatchesNumpyLayout) {
  test::TempDir dir;
  const std::vector<float> data = {1, 2, 3, 4, 5, 6.5f};
  const fs::path path = dir.path() / "a.npy";
  write_npy_f32(path, {2, 3}, data.data());
  const std::string raw = test::read_file(path);
  ASSERT_GE(raw.size(), 10u);
  EXPECT_EQ(raw.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len =
      static_cast<unsigned char>(raw[8]) | (static_cast<unsigned char>(raw[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(raw[10 + header_len - 1], '\n');
  EXPECT_TRUE(
      raw.substr(10).starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
      << raw.substr(10, header_len);
  EXPECT_EQ(raw.size(), 10 + header_len + data.size() * 4);

  const NpyF32 back = read_npy_f32(path);
  EXPECT_EQ(back.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(back.data, data);
}

TEST(Npy, OneDimensionalAndScalarShapes) {
  test::TempDir dir;
  const float v[3] = {1, 2, 3};
  write_npy_f32(dir.path() / "v.npy", {3}, v);
  EXPECT_NE(test::read_file(dir.path() / "v.npy").find("'shape': (3,), }"), std::string::npos);
  EXPECT_EQ(read_npy_f32(dir.path() / "v.npy").shape, (std::vector<std::int64_t>{3}));
  write_npy_f32(dir.path() / "s.npy", {}, v);
  const NpyF32 s = read_npy_f32(dir.path() / "s.npy");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, std::vector<float>{1});
}

TEST(Npy, ReaderRejectsOtherFiles) {
  test::TempDir dir;
  test::write_file(dir.path() / "x.npy", "hello world");
  EXPECT_SUPRA_ERROR(read_npy_f32(dir.path() / "x.npy"), "not a .npy file");
  const float v[2] = {1, 2};
  write_npy_f32(dir.path() / "t.npy", {2}, v);
  std::string raw = test::read_file(dir.path() / "t.npy");
  test::write_file(dir.path() / "t.npy", raw.substr(0, raw.size() - 2));
  EXPECT_SUPRA_ERROR(read_npy_f32(dir.path() / "t.npy"), "truncated");
  raw.replace(raw.find("<f4"), 3, "<f8");
  test::write_file(dir.path() / "d.npy", raw);
  EXPECT_SUPRA_ERROR(read_npy_f32(dir.path() / "d.npy"), "expected '<f4'");
}

}  // namespace
}  // namespace supra
