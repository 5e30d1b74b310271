#include "supra/bench.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "kernels/gemm.h"
#include "kernels/simd.h"
#include "model/model_internals.h"
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

// Bytes of `n` copies of `base`, each with room for `extra` more tokens in its KV cache (a SUPRA
// state does not grow).
std::uint64_t forked_state_bytes(const ModelConfig& c, const State& base, int n, std::int64_t extra) {
  std::uint64_t floats = 0;
  for (const LayerState& l : base.layers) floats += l.matrix.size();
  if (c.attention == AttentionKind::Softmax)
    floats += std::uint64_t(c.n_layers) * std::uint64_t(base.position + extra) * std::uint64_t(c.n_kv_heads) *
              std::uint64_t(c.qk_dim + c.v_dim);
  return floats * sizeof(float) * std::uint64_t(n);
}

// `n` copies of `base`, each KV cache reserved for `extra` more tokens before it is filled: a
// plain copy has no spare capacity, and doubling a cache of 16K tokens inside the timed steps
// would be timed too (and take twice the memory).
std::vector<State> fork_states(const ModelConfig& c, const State& base, int n, std::int64_t extra) {
  const auto rows = static_cast<std::size_t>(base.position + extra);
  std::vector<State> states(static_cast<std::size_t>(n));
  for (State& s : states) {
    s.position = base.position;
    s.layers.resize(base.layers.size());
    for (std::size_t i = 0; i < base.layers.size(); ++i) {
      const LayerState& from = base.layers[i];
      LayerState& to = s.layers[i];
      to.matrix = from.matrix;
      if (c.attention != AttentionKind::Softmax) continue;
      to.keys.reserve(rows * static_cast<std::size_t>(c.n_kv_heads * c.qk_dim));
      to.values.reserve(rows * static_cast<std::size_t>(c.n_kv_heads * c.v_dim));
      to.keys.assign(from.keys.begin(), from.keys.end());
      to.values.assign(from.values.begin(), from.values.end());
    }
  }
  return states;
}

// `n` sequences forked from `base` decode `steps` tokens together, one batched step per token
// (Model::forward(Batch&), one Batch reused: sized by an untimed first step). Returns tokens/s
// of all of them.
double batch_decode_tok_s(const Model& model, const State& base, int n, std::int64_t steps, std::mt19937& rng,
                          OpProfile* profile) {
  const ModelConfig& c = model.config();
  std::vector<State> states = fork_states(c, base, n, steps + 1);
  const std::vector<TokenId> ids = random_ids((steps + 1) * n, c.vocab_size, rng);
  Batch batch;
  auto step = [&](std::int64_t t) {
    batch.clear();
    for (int i = 0; i < n; ++i)
      batch.add(std::span(ids).subspan(static_cast<std::size_t>(t * n + i), 1), states[static_cast<std::size_t>(i)]);
    model.forward(batch);
  };
  step(0);
  ModelInternals::set_profile(model, profile);
  const auto start = Clock::now();
  for (std::int64_t t = 1; t <= steps; ++t) step(t);
  const double seconds = seconds_since(start);
  ModelInternals::set_profile(model, nullptr);
  return double(n) * double(steps) / seconds;
}

std::string gigabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", double(bytes) / 1e9);
  return text;
}

// Bytes of weights one decoded token reads: every layer matrix, the output matrix and one
// embedding row.
std::uint64_t weight_bytes_per_token(const Weights& w) {
  std::uint64_t n = matrix_bytes(w.output) + (w.embed.empty() ? 0 : w.embed.row_bytes());
  for (const LayerWeights& l : w.layers) {
    for (const kernels::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.feat_q})
      n += matrix_bytes(*m);
    if (l.feat_k.data != l.feat_q.data) n += matrix_bytes(l.feat_k);  // shared when H == Hkv
  }
  return n;
}

}  // namespace

std::string matrix_types(const Model& model) {
  const Weights& w = ModelInternals::weights(model);
  std::set<std::string> names;
  auto add = [&](const kernels::Matrix& m) {
    if (!m.empty()) names.insert(std::string(dtype_name(m.dtype)));
  };
  add(w.output);
  for (const auto& l : w.layers)
    for (const kernels::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) add(*m);
  std::string joined;
  for (const auto& n : names) joined += (joined.empty() ? "" : "+") + n;
  return joined;
}

Bandwidth read_bandwidth(int threads) {
  // 512 MiB: far beyond any last-level cache, so every pass streams from DRAM.
  const std::size_t words = (std::size_t{1} << 29) / sizeof(std::uint64_t);
  std::unique_ptr<std::uint64_t[]> buf(new std::uint64_t[words]);
  const int nthreads = threads > 0 ? threads : omp_get_max_threads();
  // Thread i runs on the i-th CPU this process may use for the whole probe, so passes do not
  // differ by where the scheduler put the threads; each thread's own mask comes back after.
  std::vector<cpu_set_t> saved(static_cast<std::size_t>(nthreads));
  cpu_set_t allowed;
  const bool pin = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
#pragma omp parallel num_threads(nthreads)
  {
    const int id = omp_get_thread_num();
    if (pin && pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t), &saved[static_cast<std::size_t>(id)]) == 0) {
      int nth = id % std::max(1, CPU_COUNT(&allowed)), cpu = 0;
      while (cpu < CPU_SETSIZE && !(CPU_ISSET(cpu, &allowed) && nth-- == 0)) ++cpu;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
  }
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (std::size_t i = 0; i < words; ++i) buf[i] = i;  // first touch by the reading thread
  std::vector<double> passes;
  std::uint64_t sink = 0;
  for (int pass = 0; pass < 11; ++pass) {
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
    if (pass > 0) passes.push_back(double(words * sizeof(std::uint64_t)) / s / 1e9);  // the first warms the TLB
  }
  if (pin) {
#pragma omp parallel num_threads(nthreads)
    pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &saved[static_cast<std::size_t>(omp_get_thread_num())]);
  }
  if (sink == 1) throw Error("read bandwidth: impossible checksum");  // keeps the reads alive
  std::sort(passes.begin(), passes.end());
  return {passes[passes.size() / 2], passes.front(), passes.back(), static_cast<int>(passes.size()), pin};
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

Result run(const Model& model, const Options& o) {
  const ModelConfig& config = model.config();
  const Weights& weights = ModelInternals::weights(model);
  if (o.prefill_tokens < 1) throw Error("bench: --prefill-tokens must be at least 1");
  if (o.decode_tokens < 1) throw Error("bench: --decode-tokens must be at least 1");
  if (o.depths.empty()) throw Error("bench: no depths to measure");
  for (std::int64_t d : o.depths)
    if (d < 0) throw Error("bench: depths must be non-negative, got " + std::to_string(d));
  for (int n : o.batch_sizes)
    if (n < 1) throw Error("bench: batch sizes must be at least 1, got " + std::to_string(n));
  if (o.threads > 0) omp_set_num_threads(o.threads);

  Result r;
  r.threads = omp_get_max_threads();
  r.simd_target = kernels::simd::current_target() + (kernels::simd::amx_int8_active() ? " + AMX-INT8" : "");
  const char* waits = std::getenv("OMP_WAIT_POLICY");
  r.openmp_waits = waits ? waits : "default";
  if (!weights.layers.empty()) r.prefill_gemm = kernels::gemm_path(weights.layers.front().wq.dtype);
  r.prefill_tokens = o.prefill_tokens;
  r.decode_tokens = o.decode_tokens;
  r.weight_bytes_per_token = weight_bytes_per_token(weights);
  r.read_bandwidth = read_bandwidth(r.threads);
  restart_peak_rss();  // the probe's buffer, freed by now, is not the model's memory

  std::mt19937 rng(7);
  State prefilled = model.new_state();
  const std::vector<TokenId> prompt = random_ids(o.prefill_tokens, config.vocab_size, rng);
  auto start = Clock::now();
  model.forward(prompt, prefilled, Mode::Parallel, LogitsWanted::Last);
  r.prefill_tok_s = double(o.prefill_tokens) / seconds_since(start);
  if (o.profile) {  // a second, profiled prefill: the timed one above runs without the timers
    r.profiles.push_back({"prefill", o.prefill_tokens, {}});
    State s = model.new_state();
    ModelInternals::set_profile(model, &r.profiles.back().ops);
    model.forward(prompt, s, Mode::Parallel, LogitsWanted::Last);
    ModelInternals::set_profile(model, nullptr);
  }

  // Decode as `supra generate` does: one token a step through one reused Batch.
  Batch batch;
  auto decode = [&](std::span<const TokenId> id, State& s) {
    batch.clear();
    batch.add(id, s);
    model.forward(batch);
  };
  for (std::int64_t depth : o.depths) {
    State s = depth == 0 ? model.new_state() : state_at_depth(prefilled, depth);
    const std::vector<TokenId> ids = random_ids(o.decode_tokens + 1, config.vocab_size, rng);
    decode(std::span(ids).first(1), s);  // warm-up
    const bool profiled = o.profile && depth == o.depths.front();
    if (profiled) r.profiles.push_back({"decode", o.decode_tokens, {}});
    ModelInternals::set_profile(model, profiled ? &r.profiles.back().ops : nullptr);
    start = Clock::now();
    for (std::int64_t t = 1; t <= o.decode_tokens; ++t) decode(std::span(ids).subspan(static_cast<std::size_t>(t), 1), s);
    r.decode_tok_s.emplace_back(depth, double(o.decode_tokens) / seconds_since(start));
    ModelInternals::set_profile(model, nullptr);
    r.state_bytes_at_max_depth = std::max<std::uint64_t>(r.state_bytes_at_max_depth, s.bytes());
  }
  r.decode_bandwidth_fraction =
      r.decode_tok_s.front().second * double(r.weight_bytes_per_token) / (r.read_bandwidth.median_gb_s * 1e9);
  r.peak_rss_bytes = peak_rss_bytes();  // before the batched decode's forked states

  for (std::int64_t depth : o.batch_sizes.empty() ? std::vector<std::int64_t>{} : o.depths) {
    const State base = depth == 0 ? model.new_state() : state_at_depth(prefilled, depth);
    for (int n : o.batch_sizes) {
      BatchDecode b{depth, n, 0, forked_state_bytes(config, base, n, o.decode_tokens + 1), {}};
      if (b.state_bytes > o.batch_state_limit_bytes)
        b.skipped = "the states of " + std::to_string(n) + " sequences at depth " + std::to_string(depth) +
                    " take " + gigabytes(b.state_bytes) + ", over the bound of " +
                    gigabytes(o.batch_state_limit_bytes);
      else {
        const bool profiled = o.profile && depth == o.depths.front();
        if (profiled) r.profiles.push_back({"batch " + std::to_string(n), o.decode_tokens, {}});
        b.aggregate_tok_s =
            batch_decode_tok_s(model, base, n, o.decode_tokens, rng, profiled ? &r.profiles.back().ops : nullptr);
      }
      r.batch_decode.push_back(std::move(b));
    }
  }
  return r;
}

}  // namespace supra::bench
