// One opened weights file: its mapping and the views into it.
// Views' data pointers are NOT necessarily aligned for their dtype (safetensors and torch zips
// only promise byte offsets); consumers must memcpy or otherwise handle unaligned data.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/mapped_file.h"
#include "supra/tensor.h"

namespace supra {

class TensorFile {
 public:
  TensorFile(MappedFile file, std::vector<TensorView> tensors,
             std::map<std::string, std::string> metadata = {})
      : file_(std::move(file)), tensors_(std::move(tensors)), metadata_(std::move(metadata)) {}

  const std::filesystem::path& path() const { return file_.path(); }
  // In file order (safetensors: header order; torch: pickle order).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // The safetensors "__metadata__" strings; empty for torch zips.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorView* find(std::string_view name) const {
    for (const TensorView& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }

 private:
  MappedFile file_;  // owns the bytes the views point into; moving it keeps the address
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace supra
