// supra bench: prefill and decode speed of a model folder (-m) or of a synthetic model of a
// known shape (--synthetic, random weights generated in memory), against the machine's read
// bandwidth measured in the same run; with --batch, the aggregate decode of N sequences stepping
// together. A table, or one JSON object with --json.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "commands.h"
#include "supra/bench.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "supra/quantize.h"

namespace supra::cli {
namespace {

// More sequences than any server runs at once; also bounds the batch's token ids and activations.
constexpr std::int64_t kMaxBatch = 1024;
constexpr std::int64_t kMaxStateMib = std::int64_t{1} << 20;

struct Flags {
  std::string model, synthetic, dtype = "bf16", depths = "0,1024,4096,16384", batch;
  std::int64_t batch_state_mib = 4096;
  bool dtype_given = false, batch_given = false, json = false;
  bench::Options options;
};

// "a,b,c" as integers of at least `minimum` ("non-negative" or "positive" says which in errors).
std::vector<std::int64_t> parse_list(const std::string& flag, const std::string& text, std::int64_t minimum) {
  const char* kind = minimum > 0 ? "positive" : "non-negative";
  std::vector<std::int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < minimum)
      throw Error(flag + " must be a comma-separated list of " + kind + " integers, got \"" + text + "\"");
    values.push_back(v);
  }
  if (values.empty()) throw Error(flag + " is empty");
  if (text.ends_with(','))  // getline drops the empty last item
    throw Error(flag + " must be a comma-separated list of " + kind + " integers, got \"" + text + "\"");
  return values;
}

void print_table(const bench::Result& r, double setup_s) {
  std::printf("shape                  %s\n", r.shape.c_str());
  std::printf("weights                %s, %.3f GB read per decoded token\n", r.dtype.c_str(),
              double(r.weight_bytes_per_token) / 1e9);
  std::printf("threads                %d (SIMD target %s, OpenMP waits %s)\n", r.threads, r.simd_target.c_str(),
              r.openmp_waits.c_str());
  std::printf("setup                  %.1f s\n", setup_s);
  const bench::Bandwidth& bw = r.read_bandwidth;
  std::printf("read bandwidth         %.1f GB/s (streaming read, same run: median of %d passes, %.1f-%.1f%s)\n",
              bw.median_gb_s, bw.passes, bw.min_gb_s, bw.max_gb_s, bw.pinned ? ", threads pinned" : "");
  std::printf("prefill %-6lld tokens  %.2f tok/s (%s)\n", static_cast<long long>(r.prefill_tokens), r.prefill_tok_s,
              r.prefill_gemm.c_str());
  const double bound = bw.median_gb_s * 1e9 / double(r.weight_bytes_per_token);
  for (const auto& [depth, tok_s] : r.decode_tok_s)
    std::printf("decode at depth %-6lld %.2f tok/s (%.0f%% of the bandwidth bound %.2f tok/s)\n",
                static_cast<long long>(depth), tok_s, 100.0 * tok_s / bound, bound);
  std::printf("state at max depth     %.1f MB\n", double(r.state_bytes_at_max_depth) / 1e6);
  std::printf("peak RSS               %.2f GB\n", double(r.peak_rss_bytes) / 1e9);
  if (r.batch_decode.empty()) return;
  std::printf("batched decode         N sequences, one batched step per token (tok/s)\n");
  std::printf("  %8s %6s %12s %14s %10s\n", "depth", "batch", "aggregate", "per sequence", "vs batch 1");
  for (const bench::BatchDecode& b : r.batch_decode) {
    if (!b.skipped.empty()) {
      std::printf("  %8lld %6d skipped: %s\n", static_cast<long long>(b.depth), b.batch, b.skipped.c_str());
      continue;
    }
    double single = 0;  // batch 1 at the same depth, when measured
    for (const bench::BatchDecode& one : r.batch_decode)
      if (one.depth == b.depth && one.batch == 1) single = one.aggregate_tok_s;
    char ratio[16] = "-";
    if (single > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", b.aggregate_tok_s / single);
    std::printf("  %8lld %6d %12.2f %14.2f %10s\n", static_cast<long long>(b.depth), b.batch, b.aggregate_tok_s,
                b.aggregate_tok_s / b.batch, ratio);
  }
}

// One row per operation, one column per profiled run (the prefill, per prompt token, and the
// decodes, per step): milliseconds and share of the step; for matrix products also the weights'
// read rate (GB/s).
void print_profile(const bench::Result& r) {
  if (r.profiles.empty()) return;
  std::printf("profile                time per step by operation (ms, share, weights GB/s; prefill: per prompt token)\n");
  std::printf("  %-28s", "operation");
  for (const bench::DecodeProfile& p : r.profiles) std::printf(" %24s", p.label.c_str());
  std::printf("\n");
  for (int k = 0; k <= kOpCount; ++k) {
    std::printf("  %-28s", k < kOpCount ? std::string(op_name(static_cast<Op>(k))).c_str() : "total");
    for (const bench::DecodeProfile& p : r.profiles) {
      const double total = p.ops.total_seconds(), steps = double(p.steps);
      if (k == kOpCount) {
        std::printf(" %24.2f", 1e3 * total / steps);
        continue;
      }
      const OpProfile::Entry& e = p.ops[static_cast<Op>(k)];
      char rate[16] = "";
      if (e.weight_bytes > 0 && e.seconds > 0) std::snprintf(rate, sizeof rate, "%.1f", double(e.weight_bytes) / e.seconds / 1e9);
      std::printf(" %9.2f %5.1f%% %7s", 1e3 * e.seconds / steps, total > 0 ? 100 * e.seconds / total : 0.0, rate);
    }
    std::printf("\n");
  }
}

// {label: {operation: seconds per step}} of the profiled decodes.
nlohmann::json profile_json(const bench::Result& r) {
  nlohmann::json j = nlohmann::json::object();
  for (const bench::DecodeProfile& p : r.profiles)
    for (int k = 0; k < kOpCount; ++k)
      j[p.label][std::string(op_name(static_cast<Op>(k)))] = p.ops[static_cast<Op>(k)].seconds / double(p.steps);
  return j;
}

void print_json(const bench::Result& r, double setup_s) {
  nlohmann::json decode = nlohmann::json::object();
  for (const auto& [depth, tok_s] : r.decode_tok_s) decode[std::to_string(depth)] = tok_s;
  nlohmann::json j = {{"shape", r.shape},
                      {"dtype", r.dtype},
                      {"threads", r.threads},
                      {"simd_target", r.simd_target},
                      {"openmp_waits", r.openmp_waits},
                      {"setup_s", setup_s},
                      {"prefill_tokens", r.prefill_tokens},
                      {"prefill_tok_s", r.prefill_tok_s},
                      {"prefill_gemm", r.prefill_gemm},
                      {"decode_tokens", r.decode_tokens},
                      {"decode_tok_s", decode},
                      {"weight_bytes_per_token", r.weight_bytes_per_token},
                      {"read_bandwidth_gb_s", r.read_bandwidth.median_gb_s},
                      {"read_bandwidth_min_gb_s", r.read_bandwidth.min_gb_s},
                      {"read_bandwidth_max_gb_s", r.read_bandwidth.max_gb_s},
                      {"read_bandwidth_passes", r.read_bandwidth.passes},
                      {"decode_bandwidth_fraction", r.decode_bandwidth_fraction},
                      {"state_bytes_at_max_depth", r.state_bytes_at_max_depth},
                      {"peak_rss_bytes", r.peak_rss_bytes}};
  if (!r.batch_decode.empty()) {
    // Keyed by depth, then by batch size; a skipped measurement is null, its reason listed.
    nlohmann::json by_depth = nlohmann::json::object(), skipped = nlohmann::json::array();
    for (const bench::BatchDecode& b : r.batch_decode) {
      by_depth[std::to_string(b.depth)][std::to_string(b.batch)] =
          b.skipped.empty() ? nlohmann::json(b.aggregate_tok_s) : nlohmann::json(nullptr);
      if (!b.skipped.empty()) skipped.push_back(b.skipped);
    }
    const std::string first = std::to_string(r.batch_decode.front().depth);
    j["batch_decode_depth"] = r.batch_decode.front().depth;
    j["batch_decode_tok_s"] = by_depth[first];
    j["batch_decode_tok_s_by_depth"] = by_depth;
    j["batch_decode_skipped"] = skipped;
  }
  if (!r.profiles.empty()) j["profile_s_per_step"] = profile_json(r);
  std::printf("%s\n", j.dump().c_str());
}

void run(Flags& f) {
  apply_threads(f.options.threads);
  if (f.model.empty() == f.synthetic.empty()) throw Error("give exactly one of -m/--model and --synthetic");
  if (!f.model.empty() && f.dtype_given) throw Error("--dtype applies to --synthetic models only");
  f.options.depths = parse_list("--depths", f.depths, 0);
  if (f.batch_given)
    for (std::int64_t n : parse_list("--batch", f.batch, 1)) {
      if (n > kMaxBatch)
        throw Error("--batch sizes are at most " + std::to_string(kMaxBatch) + ", got " + std::to_string(n));
      f.options.batch_sizes.push_back(static_cast<int>(n));
    }
  if (f.batch_state_mib < 0 || f.batch_state_mib > kMaxStateMib)
    throw Error("--batch-state-mib must be between 0 and " + std::to_string(kMaxStateMib) + " (1 TiB), got " +
                std::to_string(f.batch_state_mib));
  f.options.batch_state_limit_bytes = static_cast<std::uint64_t>(f.batch_state_mib) << 20;
  const auto start = std::chrono::steady_clock::now();
  bench::Result r;
  if (!f.synthetic.empty()) {
    const DType dtype = weight_type("--dtype", f.dtype);
    const Model model = make_synthetic_model(f.synthetic, dtype);
    const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r = bench::run(model, f.options);
    r.shape = f.synthetic;
    r.dtype = f.dtype;
    f.json ? print_json(r, setup_s) : (print_table(r, setup_s), print_profile(r));
  } else {
    const Model model = Model::load(model_folder(f.model));
    const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r = bench::run(model, f.options);
    r.shape = f.model;
    r.dtype = bench::matrix_types(model);
    f.json ? print_json(r, setup_s) : (print_table(r, setup_s), print_profile(r));
  }
}

}  // namespace

void add_bench(CLI::App& app) {
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("bench", "measure prefill and decode speed against the memory bandwidth");
  cmd->add_option("-m,--model", flags->model, "model folder in HF layout");
  cmd->add_option("--synthetic", flags->synthetic,
                  "a known shape with random weights: mistral-supra-7b, mistral-7b, supra-1b, llama-1b, tiny");
  cmd->add_option("--dtype", flags->dtype, "weight type of a synthetic model: f32, bf16 (default), f16, q8, q4")
      ->each([flags](const std::string&) { flags->dtype_given = true; });
  cmd->add_option("--depths", flags->depths, "context depths to decode at (default 0,1024,4096,16384)");
  cmd->add_option("--prefill-tokens", flags->options.prefill_tokens, "tokens of the timed prefill (default 512)");
  cmd->add_option("--decode-tokens", flags->options.decode_tokens, "timed decode steps per depth (default 16)");
  cmd->add_option("--batch", flags->batch,
                  "batch sizes: N sequences decode together, one batched step per token, at every depth "
                  "(e.g. 1,4,8,16,32; default: not measured)")
      ->each([flags](const std::string&) { flags->batch_given = true; });
  cmd->add_option("--batch-state-mib", flags->batch_state_mib,
                  "bound on the N forked states of one batched measurement, in MiB; larger ones are skipped "
                  "(default 4096)");
  add_threads_option(*cmd, flags->options.threads);
  cmd->add_flag("--json", flags->json, "print one JSON object instead of a table");
  cmd->add_flag("--profile", flags->options.profile,
                "time each operation of the prefill (per prompt token) and of the decode at the first depth (and "
                "of each --batch there): a table, or profile_s_per_step in --json");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
