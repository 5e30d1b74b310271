// Shared helpers for the test suite: locating data, comparing tensors, running the CLI.
#pragma once
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace supra::test {

// tests/data inside the repository.
std::filesystem::path data_dir();
// A model folder of the repository: "stories260K" (the shipped model, HF Llama with tied
// embeddings) or a golden fixture's name ("supra_gqa", "mistral_softmax", ...).
std::filesystem::path model_folder(const std::string& name);
// ../shared beside the checkout when present (CI has it; users do not).
std::optional<std::filesystem::path> shared_dir();

// Largest |a - b| and max |b|, to report and to judge relative error as max|a-b| / max|b|.
struct Diff {
  double max_abs = 0;
  double ref_max_abs = 0;
  std::size_t worst_index = 0;
  double rel() const { return ref_max_abs > 0 ? max_abs / ref_max_abs : max_abs; }
};
Diff compare(std::span<const float> got, std::span<const float> ref);

// True in AddressSanitizer builds (the test and the `supra` it runs are built alike): ASan's
// shadow memory reserves terabytes of address space, so an address-space cap means nothing there.
inline constexpr bool kUnderAsan =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// "ulimit -v KB; " for a shell prefix of run_cli, or nothing under AddressSanitizer.
inline std::string address_space_cap(long kilobytes) {
  return kUnderAsan ? std::string() : "ulimit -v " + std::to_string(kilobytes) + "; ";
}

// Runs the built `supra` command with `args` (a shell-quoted string); captures stdout and
// stderr separately. Returns the exit code. `shell_prefix` runs first in the same shell
// (e.g. "ulimit -f 16; " or a command wrapper such as "setpriv ... ").
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CliResult run_cli(const std::string& args, const std::string& shell_prefix = "");

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

}  // namespace supra::test
