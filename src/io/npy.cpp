#include "supra/npy.h"

#include <cstring>
#include <string>
#include <string_view>

#include "io/atomic_file.h"
#include "io/bytes.h"
#include "io/mapped_file.h"
#include "supra/error.h"

namespace supra {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

std::string shape_tuple(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + ", ";
  if (shape.size() == 1)
    s.pop_back();  // "(5,)": a one-element tuple keeps its comma
  else if (!shape.empty())
    s.resize(s.size() - 2);
  return s + ")";
}

// The value text after `'key':` in the header dict, up to the next top-level ',' or '}'.
std::string_view dict_value(std::string_view header, std::string_view key,
                            const std::string& what) {
  const std::string quoted = "'" + std::string(key) + "':";
  const std::size_t at = header.find(quoted);
  if (at == std::string_view::npos)
    throw Error(what + ": .npy header has no '" + std::string(key) + "'");
  std::size_t begin = at + quoted.size();
  while (begin < header.size() && header[begin] == ' ') ++begin;
  std::size_t end = begin;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  return header.substr(begin, end - begin);
}

std::vector<std::int64_t> parse_shape(std::string_view text, const std::string& what) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    throw Error(what + ": bad .npy shape " + std::string(text));
  std::vector<std::int64_t> shape;
  std::int64_t value = -1;
  for (char c : text.substr(1, text.size() - 2)) {
    if (c >= '0' && c <= '9') {
      if (value > (INT64_MAX - 9) / 10) throw Error(what + ": .npy shape overflows");
      value = (value < 0 ? 0 : value * 10) + (c - '0');
    } else if (c == ',') {
      if (value < 0) throw Error(what + ": bad .npy shape " + std::string(text));
      shape.push_back(value);
      value = -1;
    } else if (c != ' ' && c != 'L') {
      throw Error(what + ": bad .npy shape " + std::string(text));
    }
  }
  if (value >= 0) shape.push_back(value);
  return shape;
}

}  // namespace

void write_npy_f32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                   const float* data) {
  std::size_t numel = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw Error(path.string() + ": negative dimension in .npy shape");
    numel *= static_cast<std::size_t>(d);
  }
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  const std::size_t prefix = kMagic.size() + 2 + 2;  // magic, version, header length
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header += '\n';
  if (header.size() > 0xFFFF) throw Error(path.string() + ": .npy header too long");

  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kMagic.data(), static_cast<std::streamsize>(kMagic.size()));
    const char version[2] = {1, 0};
    out.write(version, 2);
    const std::uint16_t len = static_cast<std::uint16_t>(header.size());
    out.write(reinterpret_cast<const char*>(&len), sizeof len);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data),
              static_cast<std::streamsize>(numel * sizeof(float)));
  });
}

NpyF32 read_npy_f32(const std::filesystem::path& path) {
  const MappedFile file(path);
  const std::span<const std::byte> bytes = file.bytes();
  const std::string what = path.string();
  if (bytes.size() < kMagic.size() + 4 ||
      std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0)
    throw Error(what + ": not a .npy file");
  const auto major = static_cast<unsigned>(bytes[kMagic.size()]);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = load_le<std::uint16_t>(bytes.data() + 8);
    header_start = 10;
  } else if (major == 2 && bytes.size() >= 12) {
    header_len = load_le<std::uint32_t>(bytes.data() + 8);
    header_start = 12;
  } else {
    throw Error(what + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_start) throw Error(what + ": truncated .npy header");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + header_start),
                                header_len);
  if (dict_value(header, "descr", what) != "'<f4'")
    throw Error(what + ": .npy dtype is " + std::string(dict_value(header, "descr", what)) +
                ", expected '<f4'");
  if (dict_value(header, "fortran_order", what) != "False")
    throw Error(what + ": Fortran-order .npy is not supported");

  NpyF32 result;
  result.shape = parse_shape(dict_value(header, "shape", what), what);
  std::size_t numel = 1;
  for (std::int64_t d : result.shape) {
    auto n = checked_mul(numel, static_cast<std::size_t>(d));
    if (!n) throw Error(what + ": .npy shape overflows");
    numel = *n;
  }
  const std::size_t data_start = header_start + header_len;
  if (numel > (bytes.size() - data_start) / sizeof(float))
    throw Error(what + ": .npy data truncated: shape needs " + std::to_string(numel) + " floats");
  result.data.resize(numel);
  if (numel) std::memcpy(result.data.data(), bytes.data() + data_start, numel * sizeof(float));
  return result;
}

}  // namespace supra
