#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace supra::test {
namespace fs = std::filesystem;

fs::path data_dir() { return SUPRA_TEST_DATA; }

fs::path model_folder(const std::string& name) {
  if (name == "stories260K") return data_dir().parent_path().parent_path() / "models" / name;
  return data_dir() / "golden" / name;
}

std::optional<fs::path> shared_dir() {
  fs::path dir = SUPRA_SHARED_DIR;
  if (fs::exists(dir / "fixtures" / "golden")) return dir;
  return std::nullopt;
}

Diff compare(std::span<const float> got, std::span<const float> ref) {
  if (got.size() != ref.size()) throw std::runtime_error("compare: size mismatch");
  Diff d;
  for (std::size_t i = 0; i < got.size(); ++i) {
    double e = std::fabs(double(got[i]) - double(ref[i]));
    if (!(e <= d.max_abs)) {  // also catches NaN
      d.max_abs = std::isnan(e) ? INFINITY : e;
      d.worst_index = i;
    }
    d.ref_max_abs = std::max(d.ref_max_abs, std::fabs(double(ref[i])));
  }
  return d;
}

static std::string slurp_and_remove(const fs::path& p) {
  std::string s = read_file(p);
  fs::remove(p);
  return s;
}

CliResult run_cli(const std::string& args, const std::string& shell_prefix) {
  static std::atomic<int> counter{0};
  fs::path base = fs::temp_directory_path() /
                  ("supra_cli_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  fs::path out = base.string() + ".out", err = base.string() + ".err";
  std::string cmd = shell_prefix + "'" + SUPRA_CLI + "' " + args + " </dev/null >'" + out.string() +
                    "' 2>'" + err.string() + "'";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp_and_remove(out);
  r.err = slurp_and_remove(err);
  return r;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "supra_test_XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace supra::test
