// Transformer: the decoder stack (spec §2) with SUPRA linear attention (§3) or softmax
// attention (§4), run over spans of tokens continuing from States: one sequence, or a batch of
// them whose rows share every matrix product (one pass over the weights per step).
#pragma once
#include <functional>
#include <span>
#include <vector>

#include "model/activations.h"
#include "model/op_timer.h"
#include "model/tape.h"
#include "model/weights.h"
#include "supra/model.h"

namespace supra {

// nn.GroupNorm's default epsilon, hard-coded in the reference (spec §3.9).
inline constexpr float kGroupNormEps = 1e-5f;

// How the attention core consumes the tokens of one sequence.
enum class AttentionPath {
  Block,  // all tokens at once (chunked linear attention / causal softmax over the cache)
  Step,   // exactly one token, recurrent update (requires ids.size() == 1)
};

// One sequence's share of a run: its tokens, the State they continue (advanced in place), how
// the attention core consumes them and which logits it wants.
struct SequenceStep {
  std::span<const TokenId> ids;
  State* state = nullptr;
  AttentionPath path = AttentionPath::Block;
  LogitsWanted wanted = LogitsWanted::Last;
};

// Logit rows a sequence asks for: T for All, 1 for Last, 0 for None.
std::int64_t logit_rows(const SequenceStep& s);

// Sees every matrix product's input rows [rows, w.cols] before the product (supra imatrix
// collects activation statistics with it).
using MatmulObserver = std::function<void(const kernels::Matrix& w, const float* x, std::int64_t rows)>;

class Transformer {
 public:
  Transformer(const ModelConfig& config, const Weights& weights, MatmulObserver observer = {});

  State new_state() const;

  // Times every operation of later runs into `profile` (null: stop timing). The profile must
  // outlive the runs; runs that share it must not overlap.
  void set_profile(OpProfile* profile) { profile_ = profile; }

  // Runs every sequence's tokens after its state, advancing each. Sequence i's logits are rows
  // [acts.first_logit[i], + acts.logit_count[i]) of acts.logits (V each). Attention runs per
  // sequence; the matrix products see the rows of many sequences at once, and each sequence's
  // results are bit for bit those it gets alone: the rows of sequences shorter than the GEMM
  // threshold go through the dot-product kernels together (each row computed on its own), a
  // longer sequence's rows through their own product, exactly as alone. `trace` sees the
  // intermediates of all rows (meaningful for a single sequence).
  // `fused`: every matrix product over all rows at once instead (Batch::Rows::Fused).
  // `tape`: filled with what a backward pass reads (training: Block paths, all logits wanted).
  void run(std::span<const SequenceStep> steps, Activations& acts, const TraceFn& trace = {},
           bool fused = false, Tape* tape = nullptr) const;

  // One sequence, with activations of its own; returns its logits.
  std::vector<float> run(std::span<const TokenId> ids, State& state, AttentionPath path, LogitsWanted wanted,
                         const TraceFn& trace) const;

 private:
  // The attention sublayer after the q/k/v projections (a.q, a.k, a.v), into a.attn.
  void linear_attention(std::span<const SequenceStep> steps, Activations& a, std::int64_t R, int layer,
                        const TraceFn& trace, LayerTape* tape) const;
  // Fills the row and logit layout of a run (Activations::first_row ...).
  void lay_out(std::span<const SequenceStep> steps, Activations& a) const;
  // The recurrent steps and chunked blocks of every sequence, a.o from a.q_feat / a.k_feat / a.v_rep.
  void linear_attention_core(std::span<const SequenceStep> steps, Activations& a, int layer) const;
  // Bias, ReLU, GQA repeat, qk-norm and rotary of the projected features, into a.q_feat / a.k_feat / a.v_rep.
  void feature_maps(std::span<const SequenceStep> steps, Activations& a, std::int64_t R, const LayerWeights& lw,
                    LayerTape* tape) const;
  void softmax_attention(std::span<const SequenceStep> steps, Activations& a, std::int64_t R, int layer,
                         const TraceFn& trace, LayerTape* tape) const;
  // Softmax: rotary on q and k at each sequence's positions, k and v appended to the caches.
  void rotate_and_cache(std::span<const SequenceStep> steps, Activations& a, int layer) const;
  // Softmax: a.o from a.q over each sequence's cache.
  void softmax_attention_core(std::span<const SequenceStep> steps, Activations& a, int layer) const;
  void feed_forward(Activations& a, std::int64_t R, const LayerWeights& lw, LayerTape* tape) const;
  // out[rows, w.rows] = x[rows, w.cols] · wᵀ over the rows of every sequence (laid out by
  // first/count/order, see Activations), shown to the observer first, timed as `op`.
  void project(float* out, const float* x, const kernels::Matrix& w, std::span<const std::int64_t> first,
               std::span<const std::int64_t> count, std::span<const std::size_t> order, bool fused, Op op) const;
  // project() over the token rows of the run.
  void project(float* out, const float* x, const kernels::Matrix& w, const Activations& a, Op op) const {
    project(out, x, w, a.first_row, a.row_count, a.row_order, a.fused, op);
  }

  const ModelConfig& c_;
  const Weights& w_;
  std::vector<float> inv_freq_;
  std::vector<float> slopes_;
  MatmulObserver observer_;
  OpProfile* profile_ = nullptr;
};

}  // namespace supra
