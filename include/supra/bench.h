// `supra bench`: prefill and decode speed of one model (loaded or synthetic) at several
// context depths, the bytes of weights each decoded token reads, and the machine's streaming
// read bandwidth measured in the same run, so that decode speed can be read as a fraction of
// the memory-bandwidth bound. Optionally the aggregate decode of N sequences stepping together,
// one batched forward pass (one pass over the weights) per step.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "supra/config.h"
#include "supra/model.h"
#include "supra/op_profile.h"

namespace supra::bench {

struct Options {
  std::int64_t prefill_tokens = 512;
  std::vector<std::int64_t> depths = {0, 1024, 4096, 16384};
  std::int64_t decode_tokens = 16;
  int threads = 0;  // 0: OpenMP's default
  // Batch sizes of the batched decode, measured at every depth; empty: not measured.
  std::vector<int> batch_sizes;
  // The forked states of one batched measurement may take at most this many bytes together (a
  // softmax teacher's KV cache after 16K tokens is ~0.7 GB per sequence at the 1B shape); larger
  // measurements are skipped with the reason.
  std::uint64_t batch_state_limit_bytes = std::uint64_t{4} << 30;
  // Time every operation of the decode at the first depth (and of each batched decode there).
  bool profile = false;
};

// Where the timed decode steps of one measurement spent their time.
struct DecodeProfile {
  std::string label;  // "prefill" (steps: its prompt tokens), "decode" (one sequence) or "batch N"
  std::int64_t steps = 0;
  OpProfile ops;
};

// N sequences decoding together at one depth.
struct BatchDecode {
  std::int64_t depth = 0;
  int batch = 0;
  double aggregate_tok_s = 0;  // batch × steps / time of the steps; 0 when skipped
  std::uint64_t state_bytes = 0;  // the N states together, with room for the steps' tokens
  std::string skipped;            // why it was not measured; empty when it was
};

// The streaming read bandwidth of the machine, over several passes of one buffer.
struct Bandwidth {
  double median_gb_s = 0, min_gb_s = 0, max_gb_s = 0;  // GB/s (1e9 bytes)
  int passes = 0;
  bool pinned = false;  // each thread held on one CPU for the probe
};

struct Result {
  std::string shape, dtype, simd_target;
  std::string prefill_gemm;  // how the prefill multiplies the layer weights (kernels::gemm_path)
  std::string openmp_waits;  // OMP_WAIT_POLICY as this process started ("default" when unset)
  int threads = 0;
  std::int64_t prefill_tokens = 0, decode_tokens = 0;
  double prefill_tok_s = 0;
  std::vector<std::pair<std::int64_t, double>> decode_tok_s;  // depth → tokens/s
  std::uint64_t weight_bytes_per_token = 0;  // every layer matrix, the output matrix, one embedding row
  Bandwidth read_bandwidth;
  double decode_bandwidth_fraction = 0;  // at the first depth, of the probe's median
  std::uint64_t peak_rss_bytes = 0;  // while the model ran: the bandwidth probe's buffer excluded
  std::uint64_t state_bytes_at_max_depth = 0;
  std::vector<BatchDecode> batch_decode;  // depth-major, in the order of Options
  std::vector<DecodeProfile> profiles;    // with Options::profile: the prefill, the first depth's decodes
};

// The stored types of a model's matrices, joined ("bf16", "q4+f32", ...).
std::string matrix_types(const Model& model);

// A streaming read of a buffer far larger than the caches, on `threads` threads (0: OpenMP's
// default) pinned one per CPU for the probe: 10 timed passes after a warm-up, their median and
// spread. Memory bandwidth on a shared machine moves from pass to pass; the median of one run
// is what decode speed is compared with, the spread says how far to trust it.
Bandwidth read_bandwidth(int threads);

// Runs the measurements on a model. Decode at depth d starts from a state of position d: the
// state of the measured prefill, extended to d (a SUPRA state has the same size at any depth,
// only its position moves; a softmax KV cache is filled to d rows by repeating the prefill's
// rows), so no depth needs d tokens of prefill. The batched decode forks that same state N times
// and advances all N with one batched step per token (Model::forward(Batch&)), reusing one
// Batch across the steps.
Result run(const Model& model, const Options& options);

// Peak resident set size of this process since it started or since restart_peak_rss, in bytes.
std::uint64_t peak_rss_bytes();
// Restarts the peak at the current resident set (false where Linux does not allow it, and the
// peak then counts from the start). `run` calls it after the bandwidth probe frees its buffer.
bool restart_peak_rss();

}  // namespace supra::bench
