// Writing model folders (config.json + model.safetensors + tokenizer files) so that a reader
// sees either no folder or a complete one: everything goes into a temporary folder beside the
// target, which is renamed into place at the end.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace supra {

// Creates "<final>.tmp.<pid>.<n>", lets `fill` write into it and renames it to `final_dir`.
// An existing `final_dir` is an error unless `replace` is set; then it is swapped out and
// removed after the new folder is in place. On any error the temporary folder is removed.
void write_folder_atomically(const std::filesystem::path& final_dir,
                             const std::function<void(const std::filesystem::path& dir)>& fill,
                             bool replace = false);

// Copies the tokenizer and generation files a model folder may hold (tokenizer.model,
// tokenizer.json, tokenizer_config.json, special_tokens_map.json, generation_config.json)
// from `from` to `to`; absent ones are skipped.
void copy_tokenizer_files(const std::filesystem::path& from, const std::filesystem::path& to);

// Copies one file through write_file_atomically (so it is synced like every other output).
void copy_file_synced(const std::filesystem::path& from, const std::filesystem::path& to);

// Writes `text` to `path` atomically.
void write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace supra
