// A minimal reader for the ZIP archives torch.save writes: it lists the central directory
// (ZIP64 included, as multi-gigabyte checkpoints need it) and hands out the bytes of stored
// (uncompressed) entries in place. Every offset and size is checked against the archive size.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace supra {

struct ZipEntry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;  // 0 = stored
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t data_offset = 0;  // first byte of the (possibly compressed) data in the archive
};

class ZipArchive {
 public:
  // Parses the directory of `archive` (which must outlive this object); `what` names it in
  // error messages. Throws supra::Error when it is not a well-formed single-disk ZIP.
  ZipArchive(std::span<const std::byte> archive, std::string what);
  // The index holds views of the entry names, so an archive is neither copied nor moved.
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* find(std::string_view name) const;
  // The bytes of a stored entry; throws for compressed or encrypted entries. CRCs are not
  // checked: that would read every byte of a 31 GB file up front.
  std::span<const std::byte> stored_data(const ZipEntry& entry) const;

 private:
  std::span<const std::byte> archive_;
  std::string what_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string_view, std::size_t> index_;  // name -> position in entries_
};

}  // namespace supra
