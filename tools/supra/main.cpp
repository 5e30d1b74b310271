// supra: command-line front end of the engine. Thin: parses flags and calls the library.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "wait_policy.h"
#include "supra/error.h"

namespace supra::cli {

std::filesystem::path model_folder(const std::string& flag_value) {
  if (flag_value.empty()) return SUPRA_DEFAULT_MODEL_DIR;  // the model in the repository's models/ folder
  // Said here, before the first file of the folder is looked for ("config.json not found").
  std::error_code ec;
  if (!std::filesystem::exists(flag_value, ec)) throw Error("-m: the folder " + flag_value + " does not exist");
  if (!std::filesystem::is_directory(flag_value, ec)) throw Error("-m: " + flag_value + " is not a folder");
  return flag_value;
}

DType weight_type(const std::string& flag, const std::string& value) {
  if (value == "f32") return DType::F32;
  if (value == "bf16") return DType::BF16;
  if (value == "f16") return DType::F16;
  if (value == "q8") return DType::Q8_0;
  if (value == "q4") return DType::Q4_0;
  throw Error(flag + " must be f32, bf16, f16, q8 or q4, got \"" + value + "\"");
}

std::string read_text_file(const std::string& flag, const std::string& path) {
  if (path == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    if (std::cin.bad()) throw Error(flag + ": cannot read standard input");
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(flag + ": cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(flag + ": cannot read " + path);
  return text.str();
}

void add_model_option(CLI::App& cmd, std::string& target) {
  cmd.add_option("-m,--model", target, "model folder in HF layout (default: the model shipped with supra)")
      ->check([](const std::string& value) { return value.empty() ? std::string("must not be empty") : std::string(); });
}

}  // namespace supra::cli

int main(int argc, char** argv) {
  supra::cli::use_passive_openmp_waits(argv);
  CLI::App app{"supra: an engine for SUPRA linear-attention language models and their softmax teachers"};
  // At most one subcommand; "none" is reported below, so that an unknown word is named by
  // CLI11 ("The following argument was not expected: ...") instead of "A subcommand is required".
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", "supra " SUPRA_VERSION);
  supra::cli::add_generate(app);
  supra::cli::add_logits(app);
  supra::cli::add_tokenize(app);
  supra::cli::add_detokenize(app);
  supra::cli::add_chat(app);
  supra::cli::add_info(app);
  supra::cli::add_serve(app);
  supra::cli::add_eval(app);
  supra::cli::add_perplexity(app);
  supra::cli::add_quantize(app);
  supra::cli::add_imatrix(app);
  supra::cli::add_bench(app);
  supra::cli::add_linearize(app);
  supra::cli::add_tokenize_data(app);
  supra::cli::add_train(app);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::fprintf(stderr, "error: no command given (generate, chat, logits, tokenize, detokenize, info, eval, perplexity, quantize, imatrix, serve, bench, linearize, tokenize-data or train); see --help\n");
      return 1;
    }
  } catch (const CLI::ParseError& e) {
    // --help and --version print their text and succeed; every flag mistake (a bad number, an
    // unknown or missing flag) is one "error: " line and exit status 1, like any other error.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::string message = e.what();
    for (char& c : message)
      if (c == '\n') c = ' ';
    std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
    return 1;
  } catch (const supra::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
