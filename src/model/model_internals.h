// The library's own ways into a Model, beside the public Model::load: a Model over weights
// already in memory (synthetic shapes for `supra bench`; a checkpoint bound without load-time
// rewrites and observed by imatrix), the weights it runs on, and the per-operation timers of
// `supra bench --profile`. Not part of the public API.
#pragma once
#include <memory>
#include <string>

#include "supra/op_profile.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "supra/model.h"

namespace supra {

struct ModelInternals {
  // A model over `weights`, whose bytes `storage` keeps alive (null: the caller keeps them
  // alive for the model's life). `description` is what weights_description() says.
  static Model from_weights(ModelConfig config, Weights weights, std::shared_ptr<const void> storage,
                            std::string description, MatmulObserver observer = {});
  static const Weights& weights(const Model& model);
  // Times every operation of later forward calls into `profile` (null: stop timing); the
  // profile must outlive them and they must not overlap.
  static void set_profile(const Model& model, OpProfile* profile);
};

}  // namespace supra
