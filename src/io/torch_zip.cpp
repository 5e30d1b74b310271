#include "io/torch_zip.h"

#include <string>
#include <string_view>

#include "io/bytes.h"
#include "io/pickle.h"
#include "io/zip_archive.h"
#include "supra/error.h"

namespace supra {

namespace {

// The top folder, found through its "<top>/data.pkl": its name is the file's stem when
// torch.save was given a path and "archive" when it was given a file object.
std::string find_top_folder(const ZipArchive& zip, const std::string& what) {
  std::string top;
  constexpr std::string_view kPickle = "/data.pkl";
  for (const ZipEntry& e : zip.entries()) {
    const std::string_view name = e.name;
    if (name.size() <= kPickle.size() || !name.ends_with(kPickle)) continue;
    const std::string_view folder = name.substr(0, name.size() - kPickle.size());
    if (folder.find('/') != std::string_view::npos) continue;
    if (!top.empty())
      throw Error(what + ": two pickles in one torch zip ('" + top + "/data.pkl' and '" + e.name +
                  "')");
    top = folder;
  }
  if (top.empty()) throw Error(what + ": no '<folder>/data.pkl' entry: not a torch.save zip file");
  return top;
}

// Newer torch records the byte order of the storages; older files are little-endian.
void check_byteorder(const ZipArchive& zip, const std::string& top, const std::string& what) {
  const ZipEntry* entry = zip.find(top + "/byteorder");
  if (!entry) return;
  const auto bytes = zip.stored_data(*entry);
  const std::string_view order(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (order != "little")
    throw Error(what + ": tensors are stored " + std::string(order) +
                "-endian; only little-endian checkpoints are supported");
}

// The view of `t` within the storage entry `storage`, after checking that it is contiguous
// and lies inside the storage.
TensorView make_view(const PickledTensor& t, std::span<const std::byte> storage,
                     const std::string& where) {
  const std::size_t item = dtype_size(t.dtype);
  const auto storage_bytes =
      checked_mul<std::uint64_t>(static_cast<std::uint64_t>(t.storage_numel), item);
  if (!storage_bytes || *storage_bytes > storage.size())
    throw Error(where + ": storage of " + std::to_string(t.storage_numel) + " " +
                std::string(dtype_name(t.dtype)) + " elements needs more than the " +
                std::to_string(storage.size()) + " bytes of its zip entry");

  TensorView view;
  view.name = t.name;
  view.dtype = t.dtype;
  view.shape = t.size;
  // Row-major contiguity; a dimension of size 1 may carry any stride, as in torch.
  std::uint64_t numel = 1;
  for (std::size_t d = t.size.size(); d-- > 0;) {
    const auto dim = static_cast<std::uint64_t>(t.size[d]);
    if (dim != 1 && static_cast<std::uint64_t>(t.stride[d]) != numel)
      throw Error(where + ": tensor " + view.shape_string() + " is not contiguous (stride " +
                  std::to_string(t.stride[d]) + " in dimension " + std::to_string(d) +
                  "); save it after .contiguous()");
    const auto next = checked_mul(numel, dim);
    if (!next) throw Error(where + ": tensor size " + view.shape_string() + " overflows");
    numel = *next;
  }
  const auto end = checked_add(static_cast<std::uint64_t>(t.storage_offset), numel);
  if (numel > 0 && (!end || *end > static_cast<std::uint64_t>(t.storage_numel)))
    throw Error(where + ": tensor " + view.shape_string() + " at offset " +
                std::to_string(t.storage_offset) + " overruns its storage of " +
                std::to_string(t.storage_numel) + " elements");
  view.nbytes = static_cast<std::size_t>(numel * item);
  view.data = numel > 0 ? storage.data() + static_cast<std::size_t>(t.storage_offset) * item
                        : storage.data();
  return view;
}

}  // namespace

std::vector<TensorView> parse_torch_zip(std::span<const std::byte> archive,
                                        const std::string& what) {
  const ZipArchive zip(archive, what);
  const std::string top = find_top_folder(zip, what);
  check_byteorder(zip, top, what);

  const std::string pickle_name = top + "/data.pkl";
  const std::vector<PickledTensor> pickled =
      unpickle_state_dict(zip.stored_data(*zip.find(pickle_name)), what + ": " + pickle_name);

  std::vector<TensorView> views;
  views.reserve(pickled.size());
  for (const PickledTensor& t : pickled) {
    const std::string where = what + ": tensor '" + t.name + "'";
    const std::string entry_name = top + "/data/" + t.storage_key;
    const ZipEntry* entry = zip.find(entry_name);
    if (!entry)
      throw Error(where + ": its storage entry '" + entry_name + "' is missing from the zip");
    views.push_back(make_view(t, zip.stored_data(*entry), where));
  }
  return views;
}

TensorFile open_torch_zip(const std::filesystem::path& path) {
  MappedFile file(path);
  std::vector<TensorView> views = parse_torch_zip(file.bytes(), path.string());
  return TensorFile(std::move(file), std::move(views));
}

}  // namespace supra
