#include "train/parameters.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>

#include "io/safetensors.h"
#include "supra/error.h"

namespace supra::train {

Parameter& ParameterSet::add(std::string name, std::vector<std::int64_t> shape) {
  if (index_.count(name)) throw Error("parameter " + name + " is defined twice");
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw Error("parameter " + name + " has a negative dimension");
    n *= d;
  }
  index_.emplace(name, params_.size());
  params_.push_back(Parameter{std::move(name), std::move(shape), std::vector<float>(static_cast<std::size_t>(n), 0.0f)});
  return params_.back();
}

const Parameter* ParameterSet::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &params_[it->second];
}

std::size_t ParameterSet::index_of(std::string_view name) const {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) throw Error("no parameter named " + std::string(name));
  return it->second;
}

const Parameter& ParameterSet::at(std::string_view name) const {
  const Parameter* p = find(name);
  if (p == nullptr) throw Error("no parameter named " + std::string(name));
  return *p;
}

Parameter& ParameterSet::at(std::string_view name) {
  return const_cast<Parameter&>(static_cast<const ParameterSet&>(*this).at(name));
}

std::int64_t ParameterSet::numel() const {
  return std::accumulate(params_.begin(), params_.end(), std::int64_t{0},
                         [](std::int64_t s, const Parameter& p) { return s + p.numel(); });
}

ParameterSet ParameterSet::zeros_like() const {
  ParameterSet out;
  for (const Parameter& p : params_) out.add(p.name, p.shape);
  return out;
}

void ParameterSet::fill_zero() {
  for (Parameter& p : params_) std::fill(p.data.begin(), p.data.end(), 0.0f);
}

std::optional<std::string> find_bad_value(const ParameterSet& set, const std::string& prefix, bool non_negative) {
  // NaN fails every comparison, so one range test per value covers NaN, ±inf and negatives;
  // the branch-free pass vectorises, and only a tensor that fails it is searched.
  const float low = non_negative ? 0.0f : -std::numeric_limits<float>::max();
  const float high = std::numeric_limits<float>::max();
  for (const Parameter& p : set.all()) {
    bool ok = true;
    for (float x : p.data) ok &= (x >= low) & (x <= high);
    if (ok) continue;
    const auto bad = std::find_if(p.data.begin(), p.data.end(), [&](float x) { return !(x >= low && x <= high); });
    char value[32];
    std::snprintf(value, sizeof value, "%g", std::isnan(*bad) ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(*bad));
    return prefix + p.name + " holds " + value + " at element " + std::to_string(bad - p.data.begin());
  }
  return std::nullopt;
}

ParameterSet load_parameters(const Checkpoint& checkpoint) {
  ParameterSet out;
  for (const std::string& name : checkpoint.names()) {
    const TensorView& view = checkpoint.get(name);
    if (view.dtype != DType::F32 && view.dtype != DType::BF16 && view.dtype != DType::F16 && view.dtype != DType::F64)
      continue;  // integer buffers are not parameters
    Parameter& p = out.add(name, view.shape);
    p.data = to_f32(view);
  }
  return out;
}

void save_parameters(const std::filesystem::path& path, const ParameterSet& params,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<TensorToWrite> tensors;
  tensors.reserve(params.all().size());
  for (const Parameter& p : params.all())
    tensors.push_back(TensorToWrite{p.name, DType::F32, p.shape,
                                    std::as_bytes(std::span<const float>(p.data))});
  save_safetensors(path, tensors, metadata);
}

}  // namespace supra::train
