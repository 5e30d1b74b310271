// libFuzzer target: every evaluation data format (src/eval/tasks, jsonl.cpp, bz2_file.cpp).
// The first byte picks the format, the rest is the file's content, written where the task's
// loader looks for it (a scratch data folder made once per process):
//   0 ARC (llm-foundry JSONL)   1 WinoGrande (JSONL)   2 PIQA (JSONL, then "\x1e", then labels)
//   3 HellaSwag text (6-line items)   4 HellaSwag .bz2 file (bytes as stored)
//   5 MMLU (test CSV, then "\x1e", then dev CSV; 5-shot)
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "eval/tasks/tasks.h"
#include "supra/error.h"

namespace fs = std::filesystem;
using namespace supra::eval;

namespace {

const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "supra-fuzz-eval-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return fs::path(tmpl);
  }();
  return dir;
}

void put(const std::string& relative, std::string_view bytes) {
  const fs::path path = scratch_dir() / relative;
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Splits "first\x1esecond" (the whole input is the first part when there is no separator).
std::pair<std::string_view, std::string_view> two_files(std::string_view input) {
  const std::size_t sep = input.find('\x1e');
  if (sep == std::string_view::npos) return {input, {}};
  return {input.substr(0, sep), input.substr(sep + 1)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const fs::path& dir = scratch_dir();
  try {
    switch (data[0] % 6) {
      case 0:
        put("llm-foundry/arc_easy.jsonl", input);
        tasks::load_arc(dir, "arc_easy");
        break;
      case 1:
        put("llm-foundry/winogrande.jsonl", input);
        tasks::load_winogrande(dir);
        break;
      case 2: {
        const auto [jsonl, labels] = two_files(input);
        put("piqa-original/valid.jsonl", jsonl);
        put("piqa-original/valid-labels.lst", labels);
        tasks::load_piqa(dir);
        break;
      }
      case 3:
        tasks::parse_hellaswag(input, "fuzz input");
        break;
      case 4:
        put(tasks::kHellaswagSource, input);
        tasks::load_hellaswag(dir);
        break;
      default: {
        const auto [test, dev] = two_files(input);
        put("mmlu/test/fuzz_test.csv", test);
        put("mmlu/dev/fuzz_dev.csv", dev);
        tasks::load_mmlu(dir, "fuzz", Profile::V0_4_2, 5);
        break;
      }
    }
  } catch (const supra::Error&) {
  }
  return 0;
}
