#include "train/model_layout.h"

#include <algorithm>
#include <set>
#include <string>

#include "model/positional.h"
#include "supra/error.h"

namespace supra::train {
namespace {

using Layout = TrainableModel::Layout;

class Binder {
 public:
  Binder(const ParameterSet& params, std::string prefix) : params_(params), prefix_(std::move(prefix)) {}

  bool has(const std::string& name) const { return params_.has(prefix_ + name); }

  std::size_t index(const TensorEntry& e) {
    const std::string full = prefix_ + e.name;
    const Parameter& p = params_.at(full);
    if (p.shape != e.shape())
      throw Error("parameters: tensor " + full + " has shape " + shape_string(p.shape) + ", expected " +
                  shape_string(e.shape()));
    used_.insert(full);
    return params_.index_of(full);
  }

  void check_all_used() const {
    std::vector<std::string> extra;
    for (const Parameter& p : params_.all())
      if (!used_.count(p.name)) extra.push_back(p.name);
    if (!extra.empty()) throw Error(unexpected_tensors_message("parameters", extra));
  }

 private:
  const ParameterSet& params_;
  std::string prefix_;
  std::set<std::string> used_;
};

void bind_entry(Binder& b, const TensorEntry& e, Layout& l) {
  const std::size_t param = b.index(e);
  std::int64_t row = 0;
  for (const TensorPart& p : e.parts) {
    for (const TensorRole role : {p.role, p.alias}) {
      if (role != p.role && !p.has_alias) continue;
      if (e.is_vector())
        vector_field(l, e.layer, role) = Layout::Vec{param, e.rows};
      else
        matrix_field(l, e.layer, role) = Layout::Mat{param, row, p.rows, e.cols};
      l.bindings.push_back({e.layer, role, Layout::Mat{param, row, e.is_vector() ? e.rows : p.rows, e.cols}});
    }
    row += p.rows;
  }
}

// Names to drop before binding: ignorable buffers, and a tied output that equals the embedding.
std::set<std::string> names_to_drop(const std::vector<TensorEntry>& table, const std::string& prefix,
                                    const ParameterSet& params) {
  std::set<std::string> drop;
  for (const Parameter& p : params.all())
    if (ignorable_tensor(p.name)) drop.insert(p.name);
  const auto optional_head = std::find_if(table.begin(), table.end(), [](const TensorEntry& e) { return e.optional; });
  if (optional_head == table.end()) return drop;  // not tied
  const Parameter* embed = params.find(prefix + table.front().name);
  const Parameter* output = params.find(prefix + optional_head->name);
  if (embed != nullptr && output != nullptr && embed->shape == output->shape && embed->data == output->data)
    drop.insert(output->name);
  return drop;
}

}  // namespace

std::shared_ptr<const Layout> bind_layout(const ModelConfig& config, ParameterSet& params) {
  config.validate("config");
  const TensorNaming naming = naming_for(config, false);
  const std::vector<TensorEntry> table = tensor_table(config, naming);
  const std::string prefix = stored_prefix(naming, [&](const std::string& name) { return params.has(name); });
  const std::set<std::string> drop = names_to_drop(table, prefix, params);
  if (!drop.empty()) {
    ParameterSet kept;
    for (Parameter& p : params.all())
      if (!drop.count(p.name)) kept.add(p.name, p.shape).data = std::move(p.data);
    params = std::move(kept);
  }
  auto layout = std::make_shared<Layout>();
  layout->layers.resize(static_cast<std::size_t>(config.n_layers));
  Binder b(params, prefix);
  for (const TensorEntry& e : table)
    if (!e.optional || b.has(e.name)) bind_entry(b, e, *layout);
  b.check_all_used();
  layout->inv_freq = rotary_inv_freq(config);
  layout->slopes = decay_slopes(config);
  return layout;
}

}  // namespace supra::train
