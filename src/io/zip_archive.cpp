#include "io/zip_archive.h"

#include <algorithm>

#include "io/bytes.h"
#include "supra/error.h"

namespace supra {

namespace {

constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::uint16_t kZip64ExtraId = 0x0001;

// Where the central directory is, from the end records.
struct Directory {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t entries = 0;
  std::uint64_t end = 0;  // where the end records start: the directory must lie before it
};

class Parser {
 public:
  Parser(std::span<const std::byte> archive, const std::string& what)
      : bytes_(archive), what_(what) {}

  [[noreturn]] void fail(const std::string& message) const { throw Error(what_ + ": " + message); }

  // `size` bytes at `offset` exist in the archive.
  bool fits(std::uint64_t offset, std::uint64_t size) const {
    auto end = checked_add(offset, size);
    return end && *end <= bytes_.size();
  }
  template <typename T>
  T le(std::uint64_t offset) const {
    return load_le<T>(bytes_.data() + offset);
  }

  Directory find_directory() const {
    // The end record is the last thing in the file but may be followed by a comment of up to
    // 65535 bytes, so scan backwards for its signature.
    if (bytes_.size() < kEndSize)
      fail("not a zip file: " + std::to_string(bytes_.size()) +
           " bytes is too short (file truncated?)");
    const std::size_t lowest =
        bytes_.size() - kEndSize - std::min<std::size_t>(bytes_.size() - kEndSize, 0xFFFF);
    std::size_t pos = bytes_.size() - kEndSize + 1;
    bool found = false;
    while (pos-- > lowest) {
      if (le<std::uint32_t>(pos) == kEndSig &&
          pos + kEndSize + le<std::uint16_t>(pos + 20) <= bytes_.size()) {
        found = true;
        break;
      }
    }
    if (!found) fail("not a zip file: no end-of-central-directory record (file truncated?)");

    if (le<std::uint16_t>(pos + 4) != 0 || le<std::uint16_t>(pos + 6) != 0)
      fail("multi-disk zip archives are not supported");
    Directory dir;
    dir.entries = le<std::uint16_t>(pos + 10);
    dir.size = le<std::uint32_t>(pos + 12);
    dir.offset = le<std::uint32_t>(pos + 16);
    dir.end = pos;
    if (pos >= kZip64LocatorSize && le<std::uint32_t>(pos - kZip64LocatorSize) == kZip64LocatorSig)
      read_zip64_end(pos - kZip64LocatorSize, dir);

    if (!fits(dir.offset, dir.size) || dir.offset + dir.size > dir.end)
      fail("central directory [" + std::to_string(dir.offset) + ", +" + std::to_string(dir.size) +
           ") lies outside the archive (file truncated?)");
    if (dir.entries > dir.size / kCentralHeaderSize)
      fail("central directory claims " + std::to_string(dir.entries) + " entries in " +
           std::to_string(dir.size) + " bytes");
    return dir;
  }

  // ZIP64: the locator just before the end record points at a larger end record whose fields
  // replace the 16- and 32-bit ones.
  void read_zip64_end(std::uint64_t locator, Directory& dir) const {
    const auto offset = le<std::uint64_t>(locator + 8);
    if (le<std::uint32_t>(locator + 16) > 1) fail("multi-disk zip archives are not supported");
    if (!fits(offset, kZip64EndSize) || offset + kZip64EndSize > locator ||
        le<std::uint32_t>(offset) != kZip64EndSig)
      fail("bad ZIP64 end-of-central-directory record at offset " + std::to_string(offset));
    dir.entries = le<std::uint64_t>(offset + 32);
    dir.size = le<std::uint64_t>(offset + 40);
    dir.offset = le<std::uint64_t>(offset + 48);
    dir.end = offset;
  }

  std::vector<ZipEntry> read_entries(const Directory& dir) const {
    std::vector<ZipEntry> entries;
    entries.reserve(static_cast<std::size_t>(dir.entries));
    std::uint64_t pos = dir.offset;
    const std::uint64_t end = dir.offset + dir.size;
    for (std::uint64_t i = 0; i < dir.entries; ++i) {
      if (pos + kCentralHeaderSize > end || le<std::uint32_t>(pos) != kCentralHeaderSig)
        fail("bad central directory entry " + std::to_string(i) + " at offset " +
             std::to_string(pos));
      const std::uint16_t name_len = le<std::uint16_t>(pos + 28);
      const std::uint16_t extra_len = le<std::uint16_t>(pos + 30);
      const std::uint16_t comment_len = le<std::uint16_t>(pos + 32);
      const std::uint64_t next = pos + kCentralHeaderSize + name_len + extra_len + comment_len;
      if (next > end)
        fail("central directory entry " + std::to_string(i) + " overruns the directory");

      ZipEntry e;
      e.flags = le<std::uint16_t>(pos + 8);
      e.method = le<std::uint16_t>(pos + 10);
      e.compressed_size = le<std::uint32_t>(pos + 20);
      e.uncompressed_size = le<std::uint32_t>(pos + 24);
      std::uint64_t local = le<std::uint32_t>(pos + 42);
      e.name.assign(reinterpret_cast<const char*>(bytes_.data() + pos + kCentralHeaderSize),
                    name_len);
      apply_zip64_extra(pos + kCentralHeaderSize + name_len, extra_len, e, local);
      e.data_offset = data_offset(e, local);
      entries.push_back(std::move(e));
      pos = next;
    }
    return entries;
  }

  // Sizes and offsets that do not fit in 32 bits are 0xFFFFFFFF in the header, the real value
  // being in the ZIP64 extra field, in this order, present only for those fields that overflow.
  void apply_zip64_extra(std::uint64_t pos, std::uint16_t len, ZipEntry& e,
                         std::uint64_t& local) const {
    const std::uint64_t end = pos + len;
    while (pos + 4 <= end) {
      const std::uint16_t id = le<std::uint16_t>(pos);
      const std::uint16_t size = le<std::uint16_t>(pos + 2);
      const std::uint64_t field = pos + 4;
      if (field + size > end) fail("entry '" + e.name + "': extra field overruns its header");
      if (id == kZip64ExtraId) {
        std::uint64_t at = field;
        for (std::uint64_t* value : {&e.uncompressed_size, &e.compressed_size, &local}) {
          if (*value != 0xFFFFFFFFu) continue;
          if (at + 8 > field + size) fail("entry '" + e.name + "': ZIP64 extra field too short");
          *value = le<std::uint64_t>(at);
          at += 8;
        }
      }
      pos = field + size;
    }
  }

  // The data follows the local header, whose name and extra field lengths may differ from the
  // central directory's (torch pads the extra field so the data is 64-byte aligned).
  std::uint64_t data_offset(const ZipEntry& e, std::uint64_t local) const {
    if (!fits(local, kLocalHeaderSize) || le<std::uint32_t>(local) != kLocalHeaderSig)
      fail("entry '" + e.name + "': no local header at offset " + std::to_string(local) +
           " (file truncated?)");
    const std::uint64_t start =
        local + kLocalHeaderSize + le<std::uint16_t>(local + 26) + le<std::uint16_t>(local + 28);
    if (!fits(start, e.compressed_size))
      fail("entry '" + e.name + "': its " + std::to_string(e.compressed_size) +
           " bytes at offset " + std::to_string(start) + " lie outside the archive of " +
           std::to_string(bytes_.size()) + " bytes (file truncated?)");
    return start;
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& what_;
};

}  // namespace

ZipArchive::ZipArchive(std::span<const std::byte> archive, std::string what)
    : archive_(archive), what_(std::move(what)) {
  const Parser parser(archive_, what_);
  entries_ = parser.read_entries(parser.find_directory());
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (!index_.emplace(entries_[i].name, i).second)
      throw Error(what_ + ": duplicate entry '" + entries_[i].name + "'");
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::span<const std::byte> ZipArchive::stored_data(const ZipEntry& entry) const {
  if (entry.flags & 1u) throw Error(what_ + ": entry '" + entry.name + "' is encrypted");
  if (entry.method != 0)
    throw Error(what_ + ": entry '" + entry.name + "' is compressed (method " +
                std::to_string(entry.method) +
                "); only stored entries are supported, as torch.save writes them");
  if (entry.compressed_size != entry.uncompressed_size)
    throw Error(what_ + ": stored entry '" + entry.name + "' has compressed size " +
                std::to_string(entry.compressed_size) + " != uncompressed size " +
                std::to_string(entry.uncompressed_size));
  return archive_.subspan(static_cast<std::size_t>(entry.data_offset),
                          static_cast<std::size_t>(entry.compressed_size));
}

}  // namespace supra
