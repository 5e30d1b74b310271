// supra info: what a model folder holds, from config.json and the weights files' headers,
// without reading any weights (works on a 7B folder whose weights are absent or huge).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include "commands.h"
#include "supra/checkpoint.h"
#include "supra/config.h"
#include "supra/error.h"

namespace supra::cli {
namespace {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) bytes /= 1024.0, ++u;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

// A count as llama.cpp prints one: 318.9 K, 7.24 B (three or four significant digits).
std::string human_count(double n) {
  const char* units[] = {"", " K", " M", " B", " T"};
  int u = 0;
  while (n >= 1000.0 && u < 4) n /= 1000.0, ++u;
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f", n);
  else
    std::snprintf(buf, sizeof buf, n >= 100.0 ? "%.1f%s" : "%.2f%s", n, units[u]);
  return buf;
}

void run(const std::string& model_flag) {
  const auto folder = model_folder(model_flag);
  const ModelConfig c = ModelConfig::load_folder(folder);
  const std::int64_t params = c.parameter_count();
  std::printf("model           %s\n%s", folder.string().c_str(), c.summary().c_str());
  std::printf("parameters      %s (%lld)\n", human_count(double(params)).c_str(), static_cast<long long>(params));

  // The weights' headers give the stored types and sizes without touching the tensor data.
  try {
    const Checkpoint ckpt = Checkpoint::open_folder(folder);
    // Tensors may share bytes (tied weights, or a hostile pickle viewing one storage a
    // million times): each stored byte counts once, so the total never exceeds the files.
    std::vector<std::pair<std::uintptr_t, const TensorView*>> by_address;
    for (const auto& name : ckpt.names())
      by_address.emplace_back(reinterpret_cast<std::uintptr_t>(ckpt.get(name).data), &ckpt.get(name));
    std::sort(by_address.begin(), by_address.end());
    std::size_t bytes = 0;
    std::map<std::string, std::size_t> by_type;
    std::uintptr_t covered = 0;  // the end of the bytes counted so far
    for (const auto& [begin, t] : by_address) {
      const std::uintptr_t end = begin + t->nbytes;
      if (end <= covered) continue;
      const std::size_t fresh = end - std::max(begin, covered);
      bytes += fresh;
      by_type[std::string(dtype_name(t->dtype))] += fresh;
      covered = end;
    }
    std::string types;
    for (const auto& [type, n] : by_type) types += (types.empty() ? "" : ", ") + type + " " + human_bytes(double(n));
    std::printf("weights         %s\n", ckpt.describe().c_str());
    std::printf("weights memory  %s (%s)\n", human_bytes(double(bytes)).c_str(), types.c_str());
  } catch (const Error& e) {
    std::printf("weights         not readable here (%s)\n", e.what());
    std::printf("weights memory  %s in F32, %s in BF16\n", human_bytes(double(params) * 4).c_str(),
                human_bytes(double(params) * 2).c_str());
  }
  if (c.attention == AttentionKind::Linear) {
    const double state = double(c.n_layers) * c.n_heads * c.qk_dim * c.v_dim * 4;
    std::printf("state           %s per sequence, at any length (F32)\n", human_bytes(state).c_str());
  } else {
    const double per_token = double(c.n_layers) * c.n_kv_heads * (c.qk_dim + c.v_dim) * 4;
    std::printf("KV cache        %s per token (F32)\n", human_bytes(per_token).c_str());
  }
}

}  // namespace

void add_info(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "describe a model folder without loading its weights");
  add_model_option(*cmd, *model);
  cmd->callback([model] { run(*model); });
}

}  // namespace supra::cli
