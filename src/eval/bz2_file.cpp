#include "eval/bz2_file.h"

#include <bzlib.h>

#include <climits>

#include "eval/data_file.h"
#include "supra/error.h"

namespace supra::eval {
namespace {

// One bz_stream, always ended.
class Decompressor {
 public:
  explicit Decompressor(const std::filesystem::path& path) : path_(path) {
    if (BZ2_bzDecompressInit(&stream_, 0, 0) != BZ_OK) throw Error(path.string() + ": bzip2 init failed");
  }
  ~Decompressor() { BZ2_bzDecompressEnd(&stream_); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Decompresses one stream from the front of `input`, appending to `out`; returns the
  // number of input bytes it used.
  std::size_t stream(std::string_view input, std::string& out) {
    // bzlib counts in unsigned int; the data here is far below that, but say so if not.
    if (input.size() > UINT_MAX) throw Error(path_.string() + ": file too large for bzip2");
    stream_.next_in = const_cast<char*>(input.data());  // bzlib never writes through next_in
    stream_.avail_in = static_cast<unsigned>(input.size());
    char buffer[1 << 16];
    while (true) {
      stream_.next_out = buffer;
      stream_.avail_out = sizeof buffer;
      int rc = BZ2_bzDecompress(&stream_);
      out.append(buffer, sizeof buffer - stream_.avail_out);
      if (rc == BZ_STREAM_END) return input.size() - stream_.avail_in;
      if (rc != BZ_OK) throw Error(path_.string() + ": corrupt bzip2 data (error " + std::to_string(rc) + ")");
      if (stream_.avail_in == 0 && stream_.avail_out != 0)
        throw Error(path_.string() + ": truncated bzip2 data (the stream ends early)");
    }
  }

 private:
  const std::filesystem::path& path_;
  bz_stream stream_{};
};

}  // namespace

std::string read_bz2_file(const std::filesystem::path& path) {
  std::string compressed = read_data_file(path);
  std::string_view rest = compressed;
  if (rest.empty()) throw Error(path.string() + ": empty file, not bzip2 data");
  std::string out;
  while (!rest.empty()) {
    Decompressor d(path);
    rest.remove_prefix(d.stream(rest, out));
  }
  return out;
}

}  // namespace supra::eval
