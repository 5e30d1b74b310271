#include "train/token_shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "io/bytes.h"
#include "supra/error.h"

namespace supra::train {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

void put_u32(std::byte* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(std::byte* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

}  // namespace

ShardWriter::ShardWriter(const fs::path& path, int vocab_size)
    : path_(path), vocab_size_(vocab_size), width_(vocab_size <= 65536 ? 2 : 4) {
  if (vocab_size <= 0) throw Error("cannot write " + path.string() + ": the vocabulary size must be positive");
  static std::atomic<unsigned> counter{0};
  tmp_ = path;
  tmp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error("cannot write " + path.string() + ": cannot create " + tmp_.string() + ": " + errno_text(errno));
  buffer_.resize(kShardHeaderBytes);  // the header is written last, by finish()
}

ShardWriter::~ShardWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void ShardWriter::write_bytes(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot write " + path_.string() + ": " + errno_text(errno));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void ShardWriter::add_document(std::span<const TokenId> tokens) {
  if (fd_ < 0) throw Error("cannot write " + path_.string() + ": the shard is already finished");
  for (TokenId id : tokens) {
    if (id < 0 || id >= vocab_size_)
      throw Error("cannot write " + path_.string() + ": token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(vocab_size_));
    std::byte bytes[4];
    const auto v = static_cast<std::uint32_t>(id);
    std::memcpy(bytes, &v, 4);  // little-endian host: the low `width_` bytes come first
    buffer_.insert(buffer_.end(), bytes, bytes + width_);
    if (buffer_.size() >= kBufferBytes) {
      write_bytes(buffer_.data(), buffer_.size());
      buffer_.clear();
    }
  }
  tokens_ += tokens.size();
  ++documents_;
}

void ShardWriter::finish() {
  if (fd_ < 0) throw Error("cannot write " + path_.string() + ": the shard is already finished");
  write_bytes(buffer_.data(), buffer_.size());
  buffer_.clear();
  std::byte header[kShardHeaderBytes] = {};
  std::memcpy(header, kShardMagic, 8);
  put_u32(header + 8, kShardVersion);
  put_u32(header + 12, width_);
  put_u32(header + 16, static_cast<std::uint32_t>(vocab_size_));
  put_u64(header + 24, tokens_);
  put_u64(header + 32, documents_);
  if (::pwrite(fd_, header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
    throw Error("cannot write " + path_.string() + ": " + errno_text(errno));
  if (::fsync(fd_) != 0) throw Error("cannot write " + path_.string() + ": fsync: " + errno_text(errno));
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Error("cannot write " + path_.string() + ": " + errno_text(err));
  }
}

TokenShard TokenShard::open(const fs::path& path) {
  if (!fs::is_regular_file(path)) throw Error("token shard not found: " + path.string());
  TokenShard s(MappedFile{path});
  const std::span<const std::byte> bytes = s.file_.bytes();
  const std::string what = "token shard " + path.string();
  if (bytes.size() < kShardHeaderBytes || std::memcmp(bytes.data(), kShardMagic, 8) != 0)
    throw Error(what + ": not a token shard (bad magic; expected \"SUPRATOK\", written by `supra tokenize-data`)");
  const auto version = load_le<std::uint32_t>(bytes.data() + 8);
  if (version != kShardVersion)
    throw Error(what + ": unsupported format version " + std::to_string(version) + " (supported: 1)");
  s.width_ = load_le<std::uint32_t>(bytes.data() + 12);
  if (s.width_ != 2 && s.width_ != 4) throw Error(what + ": token width " + std::to_string(s.width_) + " is not 2 or 4");
  const auto vocab = load_le<std::uint32_t>(bytes.data() + 16);
  if (vocab == 0 || vocab > (1u << 30)) throw Error(what + ": vocabulary size " + std::to_string(vocab) + " is out of range");
  s.vocab_size_ = static_cast<int>(vocab);
  s.count_ = load_le<std::uint64_t>(bytes.data() + 24);
  s.documents_ = load_le<std::uint64_t>(bytes.data() + 32);
  const auto body = checked_mul<std::uint64_t>(s.count_, s.width_);
  const auto total = body ? checked_add<std::uint64_t>(*body, kShardHeaderBytes) : std::nullopt;
  if (!total || *total != bytes.size())
    throw Error(what + ": the header announces " + std::to_string(s.count_) + " tokens of " + std::to_string(s.width_) +
                " bytes, but the file has " + std::to_string(bytes.size()) + " bytes (" +
                (total && *total > bytes.size() ? "truncated" : "wrong size") + ")");
  return s;
}

void TokenShard::read(std::uint64_t begin, std::span<TokenId> out) const {
  if (begin > count_ || out.size() > count_ - begin)
    throw Error("token shard " + path().string() + ": tokens [" + std::to_string(begin) + ", " +
                std::to_string(begin + out.size()) + ") are beyond its " + std::to_string(count_) + " tokens");
  const std::byte* p = file_.bytes().data() + kShardHeaderBytes + begin * width_;
  for (std::size_t i = 0; i < out.size(); ++i, p += width_) {
    const std::uint32_t v = width_ == 2 ? load_le<std::uint16_t>(p) : load_le<std::uint32_t>(p);
    if (v >= static_cast<std::uint32_t>(vocab_size_))
      throw Error("token shard " + path().string() + ": token " + std::to_string(begin + i) + " is " + std::to_string(v) +
                  ", outside its vocabulary of " + std::to_string(vocab_size_));
    out[i] = static_cast<TokenId>(v);
  }
}

}  // namespace supra::train
