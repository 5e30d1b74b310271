// Tape: what a forward run keeps for a backward pass. Transformer::run fills it when asked
// (training runs the inference forward with one). Each buffer starts with the run's token rows
// in its row layout (Activations::first_row) and may be longer. A working buffer the run no
// longer reads is exchanged with the tape's (no copy); one that later kernels change in place
// is copied at the point the backward pass reads it. Reused across runs, a tape allocates
// nothing once grown.
#pragma once
#include <vector>

namespace supra {

struct LayerTape {
  std::vector<float> x_in, z;        // block input [R, D], attention-norm output [R, D]
  std::vector<float> q, k, v;        // projections [R, H·dh], [R, Hkv·dh], [R, Hkv·dv]; softmax: q, k after rotary
  std::vector<float> qf, kf;         // SUPRA: ReLU features [R, H·dqk], [R, Hkv·dqk]
  std::vector<float> kr;             // SUPRA: kf repeated to the H query heads (qk-norm input)
  std::vector<float> qa, ka, va;     // SUPRA: what the attention core read (after qk-norm and rotary)
  std::vector<float> o;              // SUPRA: attention core output (the GroupNorm's input)
  std::vector<float> g;              // what out_proj read: o's GroupNorm (SUPRA), the core output (softmax)
  std::vector<float> h, z2;          // residual after attention, ffn-norm output [R, D]
  std::vector<float> gate, up, act;  // feed-forward [R, F]: before and after silu(gate) ⊙ up
};

struct Tape {
  std::vector<LayerTape> layers;
  std::vector<float> x_final, z_final;  // last residual, final-norm output (rows wanting logits)
};

}  // namespace supra
