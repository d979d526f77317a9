#include "env_file.hpp"
#include "text_file.hpp"

namespace chathost {
namespace {

bool is_key_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

class LineParser {
 public:
  LineParser(const std::string& path, int line) : path_(path), line_(line) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw EnvFileError(path_ + ":" + std::to_string(line_) + ": " + why);
  }

  // Value after '=': quoted or bare, followed only by blanks or a comment.
  std::string parse_value(std::string_view rest) const {
    // `KEY= # comment`: the '#' follows a blank that trimming removes.
    const bool blank_after_equals = !rest.empty() && is_blank(rest.front());
    rest = trim(rest);
    if (rest.empty()) return {};
    if (blank_after_equals && rest.front() == '#') return {};
    if (rest.front() == '\'' || rest.front() == '"') return parse_quoted(rest);
    // Bare value: a comment starts at a '#' preceded by a blank.
    std::size_t end = rest.size();
    for (std::size_t i = 1; i < rest.size(); ++i) {
      if (rest[i] == '#' && is_blank(rest[i - 1])) {
        end = i;
        break;
      }
    }
    return std::string(trim(rest.substr(0, end)));
  }

 private:
  std::string parse_quoted(std::string_view rest) const {
    const char quote = rest.front();
    std::string out;
    std::size_t i = 1;
    for (; i < rest.size() && rest[i] != quote; ++i) {
      char c = rest[i];
      if (quote == '"' && c == '\\' && i + 1 < rest.size()) {
        char next = rest[++i];
        switch (next) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          default: out += next; break;  // \" \\ and anything else literally
        }
        continue;
      }
      out += c;
    }
    if (i >= rest.size()) fail(std::string("unterminated ") + quote + " quote");
    std::string_view after = trim(rest.substr(i + 1));
    if (!after.empty() && after.front() != '#') {
      fail("unexpected text after the closing quote: '" + std::string(after) + "'");
    }
    return out;
  }

  const std::string& path_;
  int line_;
};

}  // namespace

EnvFile parse_env_file(std::string_view text, const std::string& path) {
  EnvFile file;
  file.path = path;
  int line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;

    LineParser parser(path, line_no);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export") && line.size() > 6 && is_blank(line[6])) {
      line = trim(line.substr(6));
    }
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      parser.fail("expected KEY=VALUE, got '" + std::string(line) + "'");
    }
    std::string_view key = trim(line.substr(0, eq));
    if (key.empty() || !is_key_start(key.front())) {
      parser.fail("invalid variable name '" + std::string(key) + "'");
    }
    for (char c : key) {
      if (!is_key_char(c)) parser.fail("invalid variable name '" + std::string(key) + "'");
    }
    // A later line wins, as with dotenv's override of repeated keys.
    file.values[std::string(key)] = EnvValue{parser.parse_value(line.substr(eq + 1)), line_no};
  }
  return file;
}

EnvFile load_env_file(const std::filesystem::path& path) {
  const auto file = detail::read_text_file(path);
  if (!file.error.empty()) throw EnvFileError("cannot read env file " + path.string() + ": " + file.error);
  return parse_env_file(file.text, path.string());
}

}  // namespace chathost
