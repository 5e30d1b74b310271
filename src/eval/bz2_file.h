// Reading a bzip2-compressed file whole (HellaSwag's data is used as published, .bz2).
#pragma once
#include <filesystem>
#include <string>

namespace supra::eval {

// The decompressed bytes. Concatenated bzip2 streams (as parallel compressors write)
// are read one after the other. A missing file, bad data or a stream cut short is a
// supra::Error naming the file.
std::string read_bz2_file(const std::filesystem::path& path);

}  // namespace supra::eval
