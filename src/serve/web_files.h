// The chat page's files (src/serve/web), built into the binary by cmake/embed_files.cmake, which
// generates the definition of web_files() from them at build time.
#pragma once
#include <span>
#include <string_view>

namespace supra::serve {

struct EmbeddedFile {
  std::string_view name;   // the file's name in src/serve/web, e.g. "chat.js"
  std::string_view bytes;  // its contents, as they were at build time
};

std::span<const EmbeddedFile> web_files();

}  // namespace supra::serve
