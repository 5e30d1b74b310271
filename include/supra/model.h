// Model: a loaded checkpoint and its forward pass, in three modes over one set of kernels.
//
//   Parallel   the whole chunk of tokens at once (chunked O(T) linear attention; full causal
//              softmax for the teacher), like a transformer.
//   Recurrent  one token at a time with O(1) work and memory per token (KV cache for the teacher).
//   Hybrid     parallel over the first half of the tokens, recurrent over the rest: a parallel
//              prefill handing its state to recurrent decoding.
// All three produce the same logits and the same final State (to float32 rounding).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "supra/config.h"
#include "supra/state.h"
#include "supra/token.h"

namespace supra {

enum class Mode { Parallel, Recurrent, Hybrid };
std::optional<Mode> parse_mode(std::string_view name);  // "parallel" | "recurrent" | "hybrid"
std::string_view mode_name(Mode mode);

enum class LogitsWanted { None, Last, All };

// Optional observer of named intermediates (parallel pass), for tests and debugging:
// "embed", "l{i}.attn_norm_out", "l{i}.q_feat" [T,H,dqk], "l{i}.k_feat" [T,H,dqk],
// "l{i}.v" [T,H,dv], "l{i}.attn_raw" [T,H,dv], "l{i}.groupnorm_out", "l{i}.attn_out",
// "hidden.{i}" (residual stream after block i), "final_norm_out".
using TraceFn = std::function<void(const std::string& name, std::span<const float> values)>;

class Model;
struct ModelInternals;  // the library's own constructors and hooks (src/model/model_internals.h)

// A batched step: several sequences, each its own State and its own span of tokens (one decode
// token, or a chunk of a prompt), advanced by one pass over the weights (Model::forward(Batch&)).
// The matrix products see the rows of every sequence at once, so the weights are read once per
// step however many sequences run; the attention cores run per sequence.
//
// A Batch also owns the step's working memory (activations, logits), grown to the largest step
// it has run and then reused: a caller that keeps one Batch across steps allocates nothing per
// step once the sizes settle. Not thread-safe; one Batch per calling thread.
class Batch {
 public:
  // How the matrix products treat the rows of a step.
  //  Exact  each sequence gets bit for bit what it gets alone: sequences shorter than the GEMM
  //         threshold (decode tokens, short chunks) go through the dot-product kernels together,
  //         whose rows do not depend on each other, a longer one through a product of its own.
  //         A seeded sample is the same alone or under load (the server's choice).
  //  Fused  all rows of the step through one product, which from 16 rows is the GEMM (in bf16
  //         on CPUs with native bf16): fastest for steps of many multi-token sequences (scoring),
  //         equal to Exact only to that path's rounding.
  enum class Rows { Exact, Fused };

  explicit Batch(Rows rows = Rows::Exact);
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;
  ~Batch();

  // Removes every entry (keeps the memory).
  void clear();
  // Appends a sequence: `ids` continue `state`, which the step advances in place. `ids` and
  // `state` must stay alive and unmoved until the step has run. One token on a SUPRA model is a
  // recurrent step; more is a parallel (chunked) block, exactly as Model::forward does.
  // Returns the entry's index.
  std::size_t add(std::span<const TokenId> ids, State& state, LogitsWanted wanted = LogitsWanted::Last);
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  // After Model::forward(batch): entry i's float32 logits, [T, V] row-major for All, [V] for
  // Last, empty for None. Valid until the next step or clear().
  std::span<const float> logits(std::size_t i) const;

 private:
  friend class Model;
struct ModelInternals;  // the library's own constructors and hooks (src/model/model_internals.h)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Model {
 public:
  // Loads config.json and the weights of an HF-layout folder. Throws supra::Error.
  static Model load(const std::filesystem::path& folder);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const;
  std::string weights_description() const;  // file(s) and stored dtype(s)

  State new_state() const;

  // Consumes `ids` after whatever `state` holds, advancing it. Returns float32 logits:
  // [T, V] row-major for All, [V] for the last token for Last, nothing for None.
  // Ids out of [0, V) throw supra::Error before any work is done.
  std::vector<float> forward(std::span<const TokenId> ids, State& state, Mode mode,
                             LogitsWanted wanted = LogitsWanted::Last, const TraceFn& trace = {}) const;

  // Runs one batched step over every entry of `batch` (see Batch). Each entry's logits and
  // State equal those of forward(ids, state, mode) with Recurrent for one token and Parallel
  // for more, to float32 rounding (the matrix products may take another kernel for more rows).
  // Every entry is checked (ids in range, state of this model, no State twice) before any work.
  void forward(Batch& batch) const;

 private:
  friend struct ModelInternals;
  Model();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace supra
