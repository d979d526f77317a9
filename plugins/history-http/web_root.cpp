#include "web_root.hpp"

#include "text_decoding.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <utility>

namespace chat::history_http {
namespace {

namespace fs = std::filesystem;

// Larger files are not served from memory; the web root holds a page and
// its assets, nothing of that size.
constexpr std::uintmax_t kMaxFileBytes = 16U << 20U;

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string hex(std::uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value & 0xFU]);
    value >>= 4U;
  } while (value != 0);
  return out;
}

bool is_within(const fs::path& path, const fs::path& root) {
  return std::mismatch(root.begin(), root.end(), path.begin(), path.end()).first == root.end();
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

WebRoot::WebRoot(const fs::path& root) {
  std::error_code ec;
  auto absolute = fs::absolute(root, ec);
  if (ec) absolute = root;
  // Resolves symbolic links in the root itself (the build tree links web/).
  root_ = fs::weakly_canonical(absolute, ec);
  if (ec) root_ = absolute.lexically_normal();
  if (!root_.has_filename() && root_.has_relative_path()) root_ = root_.parent_path();  // "web/" -> "web"
}

std::optional<fs::path> WebRoot::relative_path(std::string_view target_path) {
  if (target_path.empty() || target_path.front() != '/') return std::nullopt;
  auto decoded = percent_decode(target_path, false);
  if (!decoded) return std::nullopt;
  if (*decoded == "/") return fs::path("client.html");
  const bool refused_byte = std::any_of(decoded->begin(), decoded->end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F || c == '\\' || c == '%';
  });
  if (refused_byte) return std::nullopt;

  fs::path relative;
  std::string_view rest = std::string_view(*decoded).substr(1);
  for (;;) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment.front() == '.') return std::nullopt;
    relative /= std::string(segment);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return relative;
}

std::optional<StaticFile> WebRoot::find(std::string_view target_path) const {
  const auto relative = relative_path(target_path);
  if (!relative) return std::nullopt;

  std::error_code ec;
  const fs::path real = fs::canonical(root_ / *relative, ec);
  if (ec || !is_within(real, root_)) return std::nullopt;
  const auto status = fs::status(real, ec);
  if (ec || !fs::is_regular_file(status)) return std::nullopt;
  const auto size = fs::file_size(real, ec);
  if (ec || size > kMaxFileBytes) return std::nullopt;
  const auto modified = fs::last_write_time(real, ec);
  if (ec) return std::nullopt;

  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(real); it != cache_.end() && it->second.size == size && it->second.modified == modified) {
      return it->second.file;
    }
  }

  std::ifstream in(real, std::ios::binary);
  if (!in) return std::nullopt;
  auto content = std::make_shared<std::string>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;

  StaticFile file;
  file.etag = content_etag(*content);
  file.content_type = std::string(content_type_for(real));
  if (file.content_type.rfind("text/html", 0) == 0) {
    file.inline_script_hashes = inline_block_hashes(*content, "script");
    file.inline_style_hashes = inline_block_hashes(*content, "style");
  }
  file.content = std::move(content);
  std::lock_guard lock(mutex_);
  // Size and mtime as seen before reading: a file changed meanwhile is read again next time.
  cache_[real] = Cached{modified, size, file};
  return file;
}

std::vector<std::string> inline_block_hashes(std::string_view html, std::string_view tag) {
  const auto lower = [](std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  const std::string text = lower(html);  // tags in any case; offsets stay those of `html`
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag);
  std::vector<std::string> hashes;
  for (std::size_t at = text.find(open); at != std::string::npos; at = text.find(open, at + 1)) {
    const std::size_t name_end = at + open.size();
    if (name_end >= text.size() || (text[name_end] != '>' && !std::isspace(static_cast<unsigned char>(text[name_end])))) {
      continue;  // <scripts>, <styles>...: another element
    }
    const std::size_t head_end = text.find('>', name_end);
    if (head_end == std::string::npos) break;
    const std::size_t body_end = text.find(close, head_end + 1);
    if (body_end == std::string::npos) break;
    const std::string_view attributes(text.data() + name_end, head_end - name_end);
    if (attributes.find("src") == std::string_view::npos) {
      const auto body = html.substr(head_end + 1, body_end - head_end - 1);
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
      unsigned char encoded[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
      const int length = EVP_EncodeBlock(encoded, digest, SHA256_DIGEST_LENGTH);
      hashes.push_back("'sha256-" + std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(length)) +
                       "'");
    }
    at = body_end;
  }
  return hashes;
}

std::string_view content_type_for(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/vnd.microsoft.icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".wasm", "application/wasm"},
      {".xml", "application/xml"},
  }};
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  for (const auto& [ext, type] : kTypes) {
    if (ext == extension) return type;
  }
  return "application/octet-stream";
}

std::string content_etag(std::string_view content) {
  return "\"" + hex(fnv1a(content)) + "-" + hex(content.size()) + "\"";
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view candidate = trim(if_none_match.substr(0, comma));
    if_none_match = comma == std::string_view::npos ? std::string_view{} : if_none_match.substr(comma + 1);
    if (candidate == "*") return true;
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
    if (candidate == etag) return true;
  }
  return false;
}

}  // namespace chat::history_http
