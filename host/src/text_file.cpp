#include "text_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace chathost::detail {

TextFile read_text_file(const std::filesystem::path& path) {
  std::error_code dir_ec;
  if (std::filesystem::is_directory(path, dir_ec)) return {.text = {}, .error = std::strerror(EISDIR)};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {.text = {}, .error = std::strerror(errno)};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return {.text = std::move(buffer).str(), .error = {}};
}

}  // namespace chathost::detail
