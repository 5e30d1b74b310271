// Optimisation (spec §8.3): global-norm gradient clipping, AdamW as torch.optim.AdamW
// (single-tensor form, decoupled weight decay on every parameter), and the learning-rate
// schedule: linear warmup, then cosine to an end LR.
#pragma once
#include <cstdint>

#include "supra/train.h"  // AdamWConfig
#include "train/parameters.h"

namespace supra::train {

// sqrt(Σ ||g||²) over every tensor, accumulated in double.
double global_grad_norm(const ParameterSet& grads);

// Scales every gradient by min(1, max_norm / (norm + 1e-6)) (computed in float32 like torch's
// clip_grad_norm_); returns the coefficient applied.
float clip_grad_norm(ParameterSet& grads, double max_norm);

class AdamW {
 public:
  AdamW(const ParameterSet& params, AdamWConfig config);

  // One update at learning rate `lr`; increments step().
  void step(ParameterSet& params, const ParameterSet& grads, double lr);

  std::int64_t steps_taken() const { return step_; }
  // Moments, for checkpoints (restore with set_state).
  const ParameterSet& first_moment() const { return m_; }
  const ParameterSet& second_moment() const { return v_; }
  void set_state(std::int64_t steps_taken, ParameterSet m, ParameterSet v);  // validates shapes

 private:
  AdamWConfig config_;
  std::int64_t step_ = 0;
  ParameterSet m_, v_;
};

struct LrSchedule {
  double lr = 3e-4;        // peak
  double end_lr = 1e-5;    // reached at total_steps
  std::int64_t warmup_steps = 0;
  std::int64_t total_steps = 1;
  // LR used by step `step` (0-based): linear warmup from lr/warmup to lr, then cosine decay.
  double at(std::int64_t step) const;
};

}  // namespace supra::train
