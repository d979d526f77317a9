// Parsing of `.env` files as Node's dotenv reads them: KEY=VALUE lines,
// `#` comments, optional `export ` prefix, single quotes (literal), double
// quotes (with \n, \t, \", \\ escapes), empty values.
#pragma once

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chathost {

struct EnvValue {
  std::string value;
  int line = 0;
};

struct EnvFile {
  std::string path;  // as given, for messages
  std::map<std::string, EnvValue, std::less<>> values;
};

class EnvFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses `text`; `path` only names the source in error messages.
// Throws EnvFileError "PATH:LINE: why" on the first malformed line.
EnvFile parse_env_file(std::string_view text, const std::string& path);

// Reads and parses a file; throws EnvFileError when it cannot be read.
EnvFile load_env_file(const std::filesystem::path& path);

}  // namespace chathost
