// Model: loading and the three forward modes, on top of the Transformer.
#include "supra/model.h"

#include <algorithm>
#include <set>

#include "model/transformer.h"
#include "model/weights.h"
#include "supra/checkpoint.h"
#include "supra/error.h"

namespace supra {

std::optional<Mode> parse_mode(std::string_view name) {
  if (name == "parallel") return Mode::Parallel;
  if (name == "recurrent") return Mode::Recurrent;
  if (name == "hybrid") return Mode::Hybrid;
  return std::nullopt;
}

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::Parallel: return "parallel";
    case Mode::Recurrent: return "recurrent";
    case Mode::Hybrid: return "hybrid";
  }
  return "?";
}

struct Model::Impl {
  ModelConfig config;
  Checkpoint checkpoint;
  Weights weights;
  Transformer transformer;

  Impl(ModelConfig c, Checkpoint ckpt)
      : config(std::move(c)),
        checkpoint(std::move(ckpt)),
        weights(bind_for_inference(checkpoint, config)),
        transformer(config, weights) {}

  // Token by token: every call sees exactly one token (O(1) work per token).
  std::vector<float> recurrent(std::span<const TokenId> ids, State& state, LogitsWanted wanted) const {
    std::vector<float> all;
    std::vector<float> last;
    for (std::size_t t = 0; t < ids.size(); ++t) {
      const bool need = wanted == LogitsWanted::All || (wanted == LogitsWanted::Last && t + 1 == ids.size());
      last = transformer.run(ids.subspan(t, 1), state, AttentionPath::Step,
                             need ? LogitsWanted::Last : LogitsWanted::None, {});
      if (wanted == LogitsWanted::All) all.insert(all.end(), last.begin(), last.end());
    }
    return wanted == LogitsWanted::All ? all : last;
  }
};

Model::Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::filesystem::path& folder) {
  ModelConfig config = ModelConfig::load_folder(folder);
  Checkpoint checkpoint = Checkpoint::open_folder(folder);
  Model m;
  m.impl_ = std::make_unique<Impl>(std::move(config), std::move(checkpoint));
  return m;
}

const ModelConfig& Model::config() const { return impl_->config; }

std::string Model::weights_description() const {
  std::set<std::string> types;
  for (const auto& name : impl_->checkpoint.names())
    types.insert(std::string(dtype_name(impl_->checkpoint.get(name).dtype)));
  std::string joined;
  for (const auto& t : types) joined += (joined.empty() ? "" : "+") + t;
  return impl_->checkpoint.describe() + " (" + joined + ")";
}

State Model::new_state() const { return impl_->transformer.new_state(); }

std::vector<float> Model::forward(std::span<const TokenId> ids, State& state, Mode mode, LogitsWanted wanted,
                                  const TraceFn& trace) const {
  const int V = impl_->config.vocab_size;
  for (std::size_t t = 0; t < ids.size(); ++t)
    if (ids[t] < 0 || ids[t] >= V)
      throw Error("token id " + std::to_string(ids[t]) + " at position " + std::to_string(t) +
                  " is out of range for a vocabulary of " + std::to_string(V));
  if (state.layers.size() != static_cast<std::size_t>(impl_->config.n_layers))
    throw Error("state does not belong to this model (layer count differs)");
  if (ids.empty()) return {};

  switch (mode) {
    case Mode::Parallel:
      return impl_->transformer.run(ids, state, AttentionPath::Block, wanted, trace);
    case Mode::Recurrent:
      return impl_->recurrent(ids, state, wanted);
    case Mode::Hybrid: {
      const std::size_t prefill = std::max<std::size_t>(1, ids.size() / 2);
      const bool all = wanted == LogitsWanted::All;
      const bool prefill_is_everything = prefill == ids.size();
      std::vector<float> head = impl_->transformer.run(
          ids.first(prefill), state, AttentionPath::Block,
          all ? LogitsWanted::All : (prefill_is_everything ? wanted : LogitsWanted::None), trace);
      if (prefill_is_everything) return head;
      std::vector<float> tail = impl_->recurrent(ids.subspan(prefill), state, wanted);
      if (!all) return tail;
      head.insert(head.end(), tail.begin(), tail.end());
      return head;
    }
  }
  return {};
}

}  // namespace supra
