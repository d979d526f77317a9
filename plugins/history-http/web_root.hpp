// The page and its assets: files under one directory, looked up by request
// path, never outside it.
//
// A path is refused (404, whatever is on disk) when, after decoding its
// percent-escapes once, it holds a NUL or other control byte, a backslash, a
// '%' (a double-encoded escape), an empty segment ("//", a trailing '/'), or
// a segment starting with '.' ("..", ".", hidden files). Directories are
// never listed; symbolic links are followed only to files inside the root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::history_http {

struct StaticFile {
  std::shared_ptr<const std::string> content;
  std::string etag;  // strong, quoted: "\"<hash>-<size>\""
  std::string content_type;
  // HTML only: CSP sources for its inline <script> and <style> blocks,
  // 'sha256-<base64>' each, so the page runs under default-src 'self'.
  std::vector<std::string> inline_script_hashes;
  std::vector<std::string> inline_style_hashes;
};

// The 'sha256-...' CSP sources of the inline blocks of element `tag`
// ("script" or "style", without a src attribute) in `html`.
std::vector<std::string> inline_block_hashes(std::string_view html, std::string_view tag);

class WebRoot {
 public:
  // `root` may not exist (yet): every lookup is then a miss.
  explicit WebRoot(const std::filesystem::path& root);

  const std::filesystem::path& path() const { return root_; }

  // The file that `target_path` (the request target without its query,
  // still percent-encoded) names; "/" is client.html. nullopt: not found, or
  // refused (see above).
  std::optional<StaticFile> find(std::string_view target_path) const;

  // The checked path relative to the root, or nullopt when refused.
  static std::optional<std::filesystem::path> relative_path(std::string_view target_path);

 private:
  struct Cached {
    std::filesystem::file_time_type modified;
    std::uintmax_t size = 0;
    StaticFile file;
  };

  std::filesystem::path root_;
  // Files read once and kept while their size and mtime stay the same.
  mutable std::mutex mutex_;
  mutable std::map<std::filesystem::path, Cached> cache_;
};

// "text/html; charset=utf-8" and the like, by extension; unknown ones are
// application/octet-stream.
std::string_view content_type_for(const std::filesystem::path& file);

// A strong entity tag of these bytes ("<FNV-1a>-<length>", quoted): what a
// file or a history page answers with, so a client that has them gets a 304.
std::string content_etag(std::string_view content);

// Whether an If-None-Match header value matches `etag` (weak comparison, as
// RFC 9110 asks for If-None-Match; "*" matches any).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace chat::history_http
