// A whole file mapped read-only into memory, unmapped by the destructor.
// Weights are never copied: tensor views point straight into the mapping, and the OS pages
// them in on first use (the published checkpoint is 31 GB).
#pragma once
#include <cstddef>
#include <filesystem>
#include <span>

namespace supra {

// Asks the kernel to drop the resident pages of [data, data + n) (whole pages inside it):
// streaming a big checkpoint once then stays at a bounded resident size. Advisory: the bytes
// stay readable (they are paged in again if touched; anonymous memory goes to swap, never
// lost), and a kernel without MADV_PAGEOUT ignores it.
void release_pages(const std::byte* data, std::size_t n);

class MappedFile {
 public:
  // Throws supra::Error naming the path and the system's reason when the file cannot be
  // opened or mapped, or is not a regular file. An empty file gives an empty span.
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void unmap() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace supra
