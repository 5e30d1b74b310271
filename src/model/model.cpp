// Model: loading and the three forward modes, on top of the Transformer.
#include "supra/model.h"

#include <algorithm>
#include <set>

#include "model/model_internals.h"
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
  std::shared_ptr<const void> storage;  // the bytes the weights point into (a mapped checkpoint)
  std::string description;
  Weights weights;
  Transformer transformer;

  Impl(ModelConfig c, Weights w, std::shared_ptr<const void> s, std::string d, MatmulObserver observer)
      : config(std::move(c)),
        storage(std::move(s)),
        description(std::move(d)),
        weights(std::move(w)),
        transformer(config, weights, std::move(observer)) {}

  // Token by token: every call sees exactly one token (O(1) work per token), on one set of
  // activations.
  std::vector<float> recurrent(std::span<const TokenId> ids, State& state, LogitsWanted wanted) const {
    const std::size_t V = static_cast<std::size_t>(config.vocab_size);
    std::vector<float> logits(wanted == LogitsWanted::All ? ids.size() * V : wanted == LogitsWanted::Last ? V : 0);
    Activations acts;
    for (std::size_t t = 0; t < ids.size(); ++t) {
      const bool need = wanted == LogitsWanted::All || (wanted == LogitsWanted::Last && t + 1 == ids.size());
      const SequenceStep step{ids.subspan(t, 1), &state, AttentionPath::Step,
                              need ? LogitsWanted::Last : LogitsWanted::None};
      transformer.run(std::span(&step, 1), acts);
      if (need)
        std::copy_n(acts.logits.begin(), V, logits.begin() + static_cast<std::ptrdiff_t>(wanted == LogitsWanted::All ? t * V : 0));
    }
    return logits;
  }

  // Ids in range and a state of this model, before any work is done.
  void check(std::span<const TokenId> ids, const State& state) const {
    for (std::size_t t = 0; t < ids.size(); ++t)
      if (ids[t] < 0 || ids[t] >= config.vocab_size)
        throw Error("token id " + std::to_string(ids[t]) + " at position " + std::to_string(t) +
                    " is out of range for a vocabulary of " + std::to_string(config.vocab_size));
    check_state(state);
  }

  // Every buffer of the state sized for this model: a state of another model (or a corrupted
  // one) would otherwise be read and written out of bounds.
  void check_state(const State& state) const {
    const auto fail = [](const std::string& what) { throw Error("state does not belong to this model (" + what + ")"); };
    if (state.layers.size() != static_cast<std::size_t>(config.n_layers))
      fail(std::to_string(state.layers.size()) + " layers, the model has " + std::to_string(config.n_layers));
    if (state.position < 0) fail("negative position " + std::to_string(state.position));
    const bool linear = config.attention == AttentionKind::Linear;
    const auto kv = static_cast<std::size_t>(linear ? 0 : state.position) * static_cast<std::size_t>(config.n_kv_heads);
    const std::size_t matrix = linear ? static_cast<std::size_t>(config.n_heads * config.qk_dim * config.v_dim) : 0;
    for (std::size_t i = 0; i < state.layers.size(); ++i) {
      const LayerState& l = state.layers[i];
      if (l.matrix.size() != matrix || l.keys.size() != kv * static_cast<std::size_t>(config.qk_dim) ||
          l.values.size() != kv * static_cast<std::size_t>(config.v_dim))
        fail("layer " + std::to_string(i) + " holds " + std::to_string(l.matrix.size()) + " state, " +
             std::to_string(l.keys.size()) + " key and " + std::to_string(l.values.size()) +
             " value floats; this model needs " + std::to_string(matrix) + ", " +
             std::to_string(kv * static_cast<std::size_t>(config.qk_dim)) + " and " +
             std::to_string(kv * static_cast<std::size_t>(config.v_dim)) + " at position " +
             std::to_string(state.position));
    }
  }
};

struct Batch::Impl {
  std::vector<SequenceStep> steps;
  Activations activations;  // entry i's logits: rows first_logit[i] .. + logit_count[i]
  std::size_t vocab = 0;     // of the model that ran the step
  Batch::Rows rows = Batch::Rows::Exact;
  bool ran = false;  // logits are those of the entries now in the batch
};

Batch::Batch(Rows rows) : impl_(std::make_unique<Impl>()) { impl_->rows = rows; }
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;
Batch::~Batch() = default;

void Batch::clear() {
  impl_->steps.clear();
  impl_->ran = false;
}

std::size_t Batch::add(std::span<const TokenId> ids, State& state, LogitsWanted wanted) {
  // A single token is a recurrent step; the softmax teacher's attention ignores the path.
  const AttentionPath path = ids.size() == 1 ? AttentionPath::Step : AttentionPath::Block;
  impl_->steps.push_back(SequenceStep{ids, &state, path, wanted});
  impl_->ran = false;
  return impl_->steps.size() - 1;
}

std::size_t Batch::size() const { return impl_->steps.size(); }

std::span<const float> Batch::logits(std::size_t i) const {
  if (i >= impl_->steps.size()) throw Error("batch entry " + std::to_string(i) + " does not exist");
  if (!impl_->ran) throw Error("batch entry " + std::to_string(i) + " has no logits: the step has not run");
  const Activations& a = impl_->activations;
  const std::size_t V = impl_->vocab;
  return std::span<const float>(a.logits.data() + static_cast<std::size_t>(a.first_logit[i]) * V,
                                static_cast<std::size_t>(a.logit_count[i]) * V);
}

void Model::forward(Batch& batch) const {
  Batch::Impl& b = *batch.impl_;
  for (std::size_t i = 0; i < b.steps.size(); ++i) {
    impl_->check(b.steps[i].ids, *b.steps[i].state);
    for (std::size_t j = 0; j < i; ++j)
      if (b.steps[j].state == b.steps[i].state)
        throw Error("batch entries " + std::to_string(j) + " and " + std::to_string(i) + " continue the same state");
  }
  impl_->transformer.run(b.steps, b.activations, {}, b.rows == Batch::Rows::Fused);
  b.vocab = static_cast<std::size_t>(impl_->config.vocab_size);
  b.ran = true;
}

Model::Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

namespace {

// "model.safetensors (BF16+F32)": the file(s) and the stored types.
std::string describe(const Checkpoint& checkpoint) {
  std::set<std::string> types;
  for (const auto& name : checkpoint.names()) types.insert(std::string(dtype_name(checkpoint.get(name).dtype)));
  std::string joined;
  for (const auto& t : types) joined += (joined.empty() ? "" : "+") + t;
  return checkpoint.describe() + " (" + joined + ")";
}

}  // namespace

Model Model::load(const std::filesystem::path& folder) {
  ModelConfig config = ModelConfig::load_folder(folder);
  auto checkpoint = std::make_shared<const Checkpoint>(Checkpoint::open_folder(folder));
  Weights weights = bind_for_inference(*checkpoint, config);
  std::string description = describe(*checkpoint);
  return ModelInternals::from_weights(std::move(config), std::move(weights), std::move(checkpoint),
                                      std::move(description));
}

Model ModelInternals::from_weights(ModelConfig config, Weights weights, std::shared_ptr<const void> storage,
                                   std::string description, MatmulObserver observer) {
  Model m;
  m.impl_ = std::make_unique<Model::Impl>(std::move(config), std::move(weights), std::move(storage),
                                          std::move(description), std::move(observer));
  return m;
}

const Weights& ModelInternals::weights(const Model& model) { return model.impl_->weights; }

void ModelInternals::set_profile(const Model& model, OpProfile* profile) {
  model.impl_->transformer.set_profile(profile);
}

const ModelConfig& Model::config() const { return impl_->config; }

std::string Model::weights_description() const { return impl_->description; }

State Model::new_state() const { return impl_->transformer.new_state(); }

std::vector<float> Model::forward(std::span<const TokenId> ids, State& state, Mode mode, LogitsWanted wanted,
                                  const TraceFn& trace) const {
  impl_->check(ids, state);
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
