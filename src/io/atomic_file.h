// Writing files so that readers see either the old file or the complete new one, never a torn
// one: the bytes go to a temporary file beside the target, which is flushed to disk and then
// renamed over it. Every writer of models, states and checkpoints goes through this.
#pragma once
#include <filesystem>
#include <functional>
#include <ostream>

namespace supra {

// Calls `writer` with a stream onto "<final_path>.tmp.<pid>.<random>" in the same directory,
// then fsyncs it and renames it to final_path. If the writer throws, or any write, flush, fsync
// or rename fails (disk full, ...), the temporary file is removed, final_path is left untouched,
// and the writer's exception or a supra::Error naming the path and the reason propagates.
void write_file_atomically(const std::filesystem::path& final_path,
                           const std::function<void(std::ostream&)>& writer);

}  // namespace supra
