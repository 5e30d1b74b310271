// ParameterSet: the trainable tensors of a model as owned float32 arrays (the fp32 master
// copy), keyed by their checkpoint names ("model.layers.0.attention.in_proj.weight", ...).
// Gradients and optimizer moments are ParameterSets of the same names and shapes.
#pragma once
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "supra/checkpoint.h"

namespace supra::train {

struct Parameter {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // row-major
  std::int64_t numel() const { return static_cast<std::int64_t>(data.size()); }
};

class ParameterSet {
 public:
  // Adds a zero-filled tensor; throws supra::Error when the name is taken.
  // References stay valid as more tensors are added (the storage is a deque).
  Parameter& add(std::string name, std::vector<std::int64_t> shape);
  Parameter& at(std::string_view name);  // throws supra::Error naming the tensor when absent
  const Parameter& at(std::string_view name) const;
  const Parameter* find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  std::size_t index_of(std::string_view name) const;  // position in all(); throws like at()

  std::deque<Parameter>& all() { return params_; }
  const std::deque<Parameter>& all() const { return params_; }
  std::int64_t numel() const;

  ParameterSet zeros_like() const;  // same names, shapes and order, all zero
  void fill_zero();

 private:
  std::deque<Parameter> params_;
  std::unordered_map<std::string, std::size_t> index_;
};

// The first value of the set that is not finite (or, with `non_negative`, is below zero), as
// "<prefix><tensor name> holds nan at element 17"; none when every value is acceptable. A NaN
// or an infinity in a weight or an AdamW moment poisons every later step, so training refuses
// to start from, continue from or save such a set.
std::optional<std::string> find_bad_value(const ParameterSet& set, const std::string& prefix = "",
                                          bool non_negative = false);

// Every floating tensor of a checkpoint, widened to float32, in the checkpoint's name order.
ParameterSet load_parameters(const Checkpoint& checkpoint);

// Writes the set as one safetensors file (float32, atomic replace) with `metadata`.
void save_parameters(const std::filesystem::path& path, const ParameterSet& params,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace supra::train
