// checksums.json: the size and CRC-32 of every other file of a training checkpoint folder,
// written last into the folder before it is renamed into place, and verified before --resume
// reads anything from it. It catches damage (a flipped bit, a truncated or missing file, a
// file that does not belong to the checkpoint); it is no defence against a deliberate edit,
// which the field checks of resume_check.h look for.
//
//   {"format": "supra-checkpoint-checksums", "version": 1, "algorithm": "crc32",
//    "files": {"config.json": {"bytes": 512, "crc32": "1c291ca3"}, ...}}
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace supra::train {

inline constexpr const char* kChecksumsFile = "checksums.json";

// CRC-32 (zlib's) of the regular file at `path`, read in blocks.
std::uint32_t file_crc32(const std::filesystem::path& path);

// Writes `folder`/checksums.json (atomically) listing every regular file of `folder`.
void write_checkpoint_checksums(const std::filesystem::path& folder);

// Throws supra::Error naming the file when checksums.json is missing or malformed, when a
// listed file is missing or differs in size or CRC-32, or when the folder holds anything else.
void verify_checkpoint_checksums(const std::filesystem::path& folder);

}  // namespace supra::train
