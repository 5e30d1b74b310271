// Gradient clipping, AdamW and the learning-rate schedule, with torch's float32 arithmetic
// where it matters for reproducing its numbers (fixtures/golden/train).
#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "supra/error.h"

namespace supra::train {
namespace {

void check_same_layout(const ParameterSet& a, const ParameterSet& b, const char* what) {
  if (a.all().size() != b.all().size())
    throw Error(std::string(what) + ": " + std::to_string(b.all().size()) + " tensors, expected " +
                std::to_string(a.all().size()));
  for (const Parameter& p : a.all()) {
    const Parameter* q = b.find(p.name);
    if (q == nullptr) throw Error(std::string(what) + ": no tensor named " + p.name);
    if (q->shape != p.shape) throw Error(std::string(what) + ": tensor " + p.name + " has a different shape");
  }
}

}  // namespace

double global_grad_norm(const ParameterSet& grads) {
  double sum = 0.0;
  for (const Parameter& p : grads.all())
    for (float g : p.data) sum += double(g) * double(g);
  return std::sqrt(sum);
}

float clip_grad_norm(ParameterSet& grads, double max_norm) {
  // torch: clip_coef = max_norm / (total_norm + 1e-6) as a float32 tensor, clamped to 1.
  const float norm = float(global_grad_norm(grads));
  const float coef = std::min(1.0f, float(max_norm) / (norm + 1e-6f));
  if (coef < 1.0f)
    for (Parameter& p : grads.all())
      for (float& g : p.data) g *= coef;
  return coef;
}

AdamW::AdamW(const ParameterSet& params, AdamWConfig config)
    : config_(config), m_(params.zeros_like()), v_(params.zeros_like()) {}

void AdamW::step(ParameterSet& params, const ParameterSet& grads, double lr) {
  check_same_layout(m_, params, "AdamW parameters");
  check_same_layout(m_, grads, "AdamW gradients");
  ++step_;
  // torch 1.13 single-tensor AdamW: Python-double scalars, float32 tensor arithmetic.
  const double t = double(step_);
  const float decay = float(1.0 - lr * config_.weight_decay);
  const float b1 = float(config_.beta1), b2 = float(config_.beta2);
  const float one_minus_b1 = float(1.0 - config_.beta1), one_minus_b2 = float(1.0 - config_.beta2);
  const float step_size = float(lr / (1.0 - std::pow(config_.beta1, t)));
  const float bc2_sqrt = float(std::sqrt(1.0 - std::pow(config_.beta2, t)));
  const float eps = float(config_.eps);
  for (std::size_t i = 0; i < m_.all().size(); ++i) {
    const std::string& name = m_.all()[i].name;
    float* p = params.at(name).data.data();
    const float* g = grads.at(name).data.data();
    float* m = m_.all()[i].data.data();
    float* v = v_.at(name).data.data();
    const std::size_t n = m_.all()[i].data.size();
    for (std::size_t j = 0; j < n; ++j) {
      p[j] *= decay;
      m[j] = m[j] * b1 + one_minus_b1 * g[j];
      v[j] = v[j] * b2 + one_minus_b2 * g[j] * g[j];
      const float denom = std::sqrt(v[j]) / bc2_sqrt + eps;
      p[j] -= step_size * (m[j] / denom);
    }
  }
}

void AdamW::set_state(std::int64_t steps_taken, ParameterSet m, ParameterSet v) {
  if (steps_taken < 0) throw Error("AdamW state: negative step count");
  check_same_layout(m_, m, "AdamW first moment");
  check_same_layout(m_, v, "AdamW second moment");
  step_ = steps_taken;
  m_ = std::move(m);
  v_ = std::move(v);
}

double LrSchedule::at(std::int64_t step) const {
  if (step < warmup_steps) return lr * double(step + 1) / double(warmup_steps);
  const std::int64_t span = total_steps - warmup_steps;
  if (span <= 0) return end_lr;
  const double progress = double(std::min(step - warmup_steps, span)) / double(span);
  return end_lr + 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) * (lr - end_lr);
}

}  // namespace supra::train
