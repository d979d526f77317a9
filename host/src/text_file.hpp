// Reading a whole config or env file, the one way the host does it.
#pragma once

#include <filesystem>
#include <string>

namespace chathost::detail {

struct TextFile {
  std::string text;
  std::string error;  // empty: read; else why not ("No such file or directory")
};

// The whole of `path`. A directory is refused: an ifstream opens one and then
// reads nothing from it, which would pass for an empty file.
TextFile read_text_file(const std::filesystem::path& path);

}  // namespace chathost::detail
