// Test helpers that build small files byte by byte: stored ZIP archives (with real CRC-32s,
// optionally in ZIP64 form), pickle opcode streams and raw safetensors files, so malformed
// and hostile inputs can be written without Python.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace supra::test {

inline std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// `n` bytes of `v`, little-endian.
inline std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

struct ZipFileEntry {
  std::string name;
  std::string data;
  std::uint16_t method = 0;  // the bytes are written as given whatever this says
};

// A ZIP archive of the entries. With zip64, every size and offset goes through the ZIP64
// extra field and end records, as in a multi-gigabyte checkpoint.
inline std::string make_zip(const std::vector<ZipFileEntry>& entries, bool zip64 = false) {
  std::string out, central;
  for (const ZipFileEntry& e : entries) {
    const std::uint64_t offset = out.size();
    const std::string common =
        le(20, 2) + le(0, 2) + le(e.method, 2) + le(0, 2) + le(0, 2) + le(crc32(e.data), 4);
    const std::string sizes = zip64 ? le(0xFFFFFFFFu, 4) + le(0xFFFFFFFFu, 4)
                                    : le(e.data.size(), 4) + le(e.data.size(), 4);
    const std::string extra =
        zip64 ? le(1, 2) + le(24, 2) + le(e.data.size(), 8) + le(e.data.size(), 8) + le(offset, 8)
              : std::string();
    out += le(0x04034b50, 4) + common + le(e.data.size(), 4) + le(e.data.size(), 4) +
           le(e.name.size(), 2) + le(0, 2) + e.name + e.data;
    central += le(0x02014b50, 4) + le(20, 2) + common + sizes + le(e.name.size(), 2) +
               le(extra.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) +
               le(zip64 ? 0xFFFFFFFFu : offset, 4) + e.name + extra;
  }
  const std::uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const std::uint64_t end64 = out.size();
    out += le(0x06064b50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4) +
           le(entries.size(), 8) + le(entries.size(), 8) + le(central.size(), 8) + le(cd_offset, 8);
    out += le(0x07064b50, 4) + le(0, 4) + le(end64, 8) + le(1, 4);
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(0xFFFF, 2) + le(0xFFFF, 2) +
           le(0xFFFFFFFFu, 4) + le(0xFFFFFFFFu, 4) + le(0, 2);
  } else {
    out += le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(entries.size(), 2) + le(entries.size(), 2) +
           le(central.size(), 4) + le(cd_offset, 4) + le(0, 2);
  }
  return out;
}

// --- pickle opcodes ---
inline std::string p_str(const std::string& s) { return "X" + le(s.size(), 4) + s; }
inline std::string p_global(const std::string& module, const std::string& name) {
  return "c" + module + "\n" + name + "\n";
}
inline std::string p_int(std::uint8_t v) { return "K" + std::string(1, static_cast<char>(v)); }
inline const std::string kProto2 = "\x80\x02";
inline const std::string kStop = ".";

// A pickled _rebuild_tensor_v2(...) of a 1-d or 2-d float tensor in storage `key`.
inline std::string p_tensor(const std::string& key, std::uint8_t storage_numel,
                            const std::vector<std::uint8_t>& size,
                            const std::vector<std::uint8_t>& stride, std::uint8_t offset = 0) {
  auto tuple = [](const std::vector<std::uint8_t>& v) {
    std::string s = "(";
    for (std::uint8_t x : v) s += p_int(x);
    return s + "t";
  };
  return p_global("torch._utils", "_rebuild_tensor_v2") + "((" + p_str("storage") +
         p_global("torch", "FloatStorage") + p_str(key) + p_str("cpu") + p_int(storage_numel) +
         "tQ" + p_int(offset) + tuple(size) + tuple(stride) + "\x89" +
         p_global("collections", "OrderedDict") + ")RtR";
}

// A torch zip "archive/" holding a pickle and the storages' bytes.
inline std::string make_torch_zip(
    const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages) {
  std::vector<ZipFileEntry> entries{{"archive/data.pkl", pickle}};
  for (const auto& [key, bytes] : storages) entries.push_back({"archive/data/" + key, bytes});
  return make_zip(entries);
}

// --- safetensors ---
inline std::string make_safetensors(const std::string& header_json, const std::string& data) {
  return le(header_json.size(), 8) + header_json + data;
}

}  // namespace supra::test
