#include "bench/bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "kernels/gemm.h"
#include "kernels/simd.h"
#include "model/transformer.h"
#include "supra/error.h"

namespace supra::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::uint64_t matrix_bytes(const kernels::Matrix& m) {
  return m.empty() ? 0 : static_cast<std::uint64_t>(m.rows) * m.row_bytes();
}

std::vector<TokenId> random_ids(std::int64_t n, int vocab, std::mt19937& rng) {
  std::uniform_int_distribution<TokenId> dist(0, vocab - 1);
  std::vector<TokenId> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = dist(rng);
  return ids;
}

// The prefill state moved to `depth` (see run()).
State state_at_depth(const State& prefilled, std::int64_t depth) {
  State s = prefilled;
  const std::int64_t have = prefilled.position;
  s.position = depth;
  for (LayerState& l : s.layers) {
    if (l.keys.empty() || have == 0) continue;
    const std::size_t krow = l.keys.size() / static_cast<std::size_t>(have);
    const std::size_t vrow = l.values.size() / static_cast<std::size_t>(have);
    std::vector<float> keys(krow * static_cast<std::size_t>(depth)), values(vrow * static_cast<std::size_t>(depth));
    for (std::int64_t t = 0; t < depth; ++t) {
      const std::size_t src = static_cast<std::size_t>(t % have);
      std::memcpy(&keys[t * krow], &l.keys[src * krow], krow * sizeof(float));
      std::memcpy(&values[t * vrow], &l.values[src * vrow], vrow * sizeof(float));
    }
    l.keys = std::move(keys);
    l.values = std::move(values);
  }
  return s;
}

}  // namespace

std::uint64_t weight_bytes_per_token(const Weights& w) {
  std::uint64_t n = matrix_bytes(w.output) + (w.embed.empty() ? 0 : w.embed.row_bytes());
  for (const LayerWeights& l : w.layers) {
    for (const kernels::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.feat_q})
      n += matrix_bytes(*m);
    if (l.feat_k.data != l.feat_q.data) n += matrix_bytes(l.feat_k);  // shared when H == Hkv
  }
  return n;
}

double read_bandwidth_gb_s(int threads) {
  // 512 MiB: far beyond any last-level cache, so every pass streams from DRAM.
  const std::size_t words = (std::size_t{1} << 29) / sizeof(std::uint64_t);
  std::unique_ptr<std::uint64_t[]> buf(new std::uint64_t[words]);
  const int nthreads = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (std::size_t i = 0; i < words; ++i) buf[i] = i;  // first touch by the reading thread
  double best = 0;
  std::uint64_t sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = Clock::now();
    std::uint64_t total = 0;
    // Each thread sums one contiguous slice with the widest loads the CPU has (a plain loop
    // compiled for the x86-64 baseline reads ~20% slower than the kernels do).
#pragma omp parallel num_threads(nthreads) reduction(+ : total)
    {
      const auto n = static_cast<std::size_t>(omp_get_num_threads());
      const auto id = static_cast<std::size_t>(omp_get_thread_num());
      const std::size_t begin = words * id / n, end = words * (id + 1) / n;
      total += kernels::simd::sum_words(buf.get() + begin, end - begin);
    }
    const double s = seconds_since(start);
    sink += total;
    best = std::max(best, double(words * sizeof(std::uint64_t)) / s / 1e9);
  }
  if (sink == 1) throw Error("read bandwidth: impossible checksum");  // keeps the reads alive
  return best;
}

bool restart_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";  // Linux ≥ 4.0: the peak restarts at the current resident set
  clear.flush();
  return static_cast<bool>(clear);
}

std::uint64_t peak_rss_bytes() {
  // VmHWM is what clear_refs resets; getrusage's maximum is kept where /proc is not readable.
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // Linux reports KiB
}

Result run(const ModelConfig& config, const Weights& weights, const Options& o) {
  if (o.prefill_tokens < 1) throw Error("bench: --prefill-tokens must be at least 1");
  if (o.decode_tokens < 1) throw Error("bench: --decode-tokens must be at least 1");
  if (o.depths.empty()) throw Error("bench: no depths to measure");
  for (std::int64_t d : o.depths)
    if (d < 0) throw Error("bench: depths must be non-negative, got " + std::to_string(d));
  if (o.threads > 0) omp_set_num_threads(o.threads);

  Result r;
  r.threads = omp_get_max_threads();
  r.simd_target = kernels::simd::current_target();
  const char* waits = std::getenv("OMP_WAIT_POLICY");
  r.openmp_waits = waits ? waits : "default";
  if (!weights.layers.empty()) r.prefill_gemm = kernels::gemm_path(weights.layers.front().wq.dtype);
  r.prefill_tokens = o.prefill_tokens;
  r.decode_tokens = o.decode_tokens;
  r.weight_bytes_per_token = weight_bytes_per_token(weights);
  r.read_bandwidth_gb_s = read_bandwidth_gb_s(r.threads);
  restart_peak_rss();  // the probe's buffer, freed by now, is not the model's memory

  const Transformer model(config, weights);
  std::mt19937 rng(7);
  State prefilled = model.new_state();
  const std::vector<TokenId> prompt = random_ids(o.prefill_tokens, config.vocab_size, rng);
  auto start = Clock::now();
  model.run(prompt, prefilled, AttentionPath::Block, LogitsWanted::Last, {});
  r.prefill_tok_s = double(o.prefill_tokens) / seconds_since(start);

  for (std::int64_t depth : o.depths) {
    State s = depth == 0 ? model.new_state() : state_at_depth(prefilled, depth);
    const std::vector<TokenId> ids = random_ids(o.decode_tokens + 1, config.vocab_size, rng);
    model.run(std::span(ids).first(1), s, AttentionPath::Step, LogitsWanted::Last, {});  // warm-up
    start = Clock::now();
    for (std::int64_t t = 1; t <= o.decode_tokens; ++t)
      model.run(std::span(ids).subspan(static_cast<std::size_t>(t), 1), s, AttentionPath::Step, LogitsWanted::Last,
                {});
    r.decode_tok_s.emplace_back(depth, double(o.decode_tokens) / seconds_since(start));
    r.state_bytes_at_max_depth = std::max<std::uint64_t>(r.state_bytes_at_max_depth, s.bytes());
  }
  r.decode_bandwidth_fraction =
      r.decode_tok_s.front().second * double(r.weight_bytes_per_token) / (r.read_bandwidth_gb_s * 1e9);
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace supra::bench
