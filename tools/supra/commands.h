// The subcommands of the `supra` command line. Each adds itself to the app; main() runs the
// chosen one and turns errors into one line on stderr and a non-zero exit.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "supra/tensor.h"

namespace supra::cli {

void add_generate(CLI::App& app);
void add_logits(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_info(CLI::App& app);
void add_serve(CLI::App& app);
void add_eval(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_quantize(CLI::App& app);
void add_imatrix(CLI::App& app);
void add_linearize(CLI::App& app);
void add_tokenize_data(CLI::App& app);
void add_train(CLI::App& app);
void add_bench(CLI::App& app);

// The model folder to use: -m when given, else the model shipped with supra.
std::filesystem::path model_folder(const std::string& flag_value);

// The weight type named by a --type/--dtype value: f32, bf16, f16, q8 (Q8_0) or q4 (Q4_0).
DType weight_type(const std::string& flag, const std::string& value);

// The whole of a text file named by `flag`; throws supra::Error naming the flag when unreadable.
std::string read_text_file(const std::string& flag, const std::string& path);

// Adds the -m/--model option to a subcommand.
void add_model_option(CLI::App& cmd, std::string& target);

}  // namespace supra::cli
