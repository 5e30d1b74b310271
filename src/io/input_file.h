// Opening files that come from outside (model folders, data files, state files) for reading.
// A FIFO, a socket, a directory or a device (such as a symlink to /dev/zero) is refused before
// any blocking open() or unbounded read: opening a FIFO for reading waits for a writer forever,
// and a character device never ends.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace supra {

// Throws supra::Error "cannot open PATH: <reason>" when the file does not exist or cannot be
// inspected, and "PATH: not a regular file (a FIFO)" and the like when it is not a regular file
// (symlinks are followed).
void require_regular_file(const std::filesystem::path& path);

// A read-only descriptor of the regular file at `path` (O_CLOEXEC), or a supra::Error as for
// require_regular_file. The open itself cannot block, even if the file is replaced by a FIFO
// between the check and the open. The caller closes the descriptor.
int open_regular_file(const std::filesystem::path& path);

// The whole regular file at `path`; a file over `max_bytes` is refused with an error naming
// the limit, so a small parser never reads an unbounded amount.
std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace supra
