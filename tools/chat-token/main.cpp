// chat-token: prints a bearer token for one user, signed with the secret
// that ws-proxy and history-http check tokens against (auth_secret_file).
//
//   chat-token --secret-file /etc/chat-host/token-secret --sub alice --ttl 3600 --rooms lobby,team-*
#include "auth/jwt.hpp"
#include "auth/secret_file.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

namespace po = boost::program_options;

constexpr std::int64_t kMaxTtlSeconds = 366LL * 24 * 3600;

int run(int argc, char** argv) {
  std::string secret_file;
  std::string subject;
  std::string rooms;
  chat::auth::TokenClaims claims;
  std::int64_t ttl = 3600;
  po::options_description options("chat-token: issues a bearer token (JWT, HS256) for chat-host.\n\nOptions");
  options.add_options()
      ("help,h", "this help")
      ("secret-file", po::value(&secret_file)->value_name("FILE"),
       "file holding the secret, as auth_secret_file of ws-proxy and history-http (required)")
      ("sub", po::value(&subject)->value_name("USER"), "the user id the token stands for (required)")
      ("ttl", po::value(&ttl)->value_name("SECONDS")->default_value(ttl),
       "how long the token is valid, 1 second to 366 days (the plugins refuse tokens valid longer than their "
       "max_token_ttl_seconds, 24 h by default)")
      ("rooms", po::value(&rooms)->value_name("LIST"),
       "the rooms it opens, comma-separated: names, and prefixes ending in * (team-*); without it, every room")
      ("iss", po::value(&claims.issuer)->value_name("ISSUER"), "the iss claim (the plugins' auth_issuer)")
      ("aud", po::value(&claims.audience)->value_name("AUDIENCE"), "the aud claim (the plugins' auth_audience)");
  po::variables_map values;
  po::store(po::command_line_parser(argc, argv).options(options).run(), values);
  po::notify(values);
  if (values.count("help") != 0) {
    std::cout << options << "\nPrints the token on stdout. Browsers send it as ?access_token= on the WebSocket\n"
                            "URL, HTTP clients as 'Authorization: Bearer <token>'.\n";
    return 0;
  }
  if (secret_file.empty() || subject.empty()) {
    std::cerr << "chat-token: --secret-file and --sub are required (see --help)\n";
    return 2;
  }
  if (ttl < 1 || ttl > kMaxTtlSeconds) {
    std::cerr << "chat-token: --ttl must be from 1 to " << kMaxTtlSeconds << " seconds\n";
    return 2;
  }

  auto file = chat::auth::read_secret_file(secret_file);
  if (!file.error.empty()) {
    std::cerr << "chat-token: " << file.error << "\n";
    return 1;
  }
  for (std::size_t start = 0; start < rooms.size();) {
    const auto comma = std::min(rooms.find(',', start), rooms.size());
    if (comma > start) claims.rooms.push_back(rooms.substr(start, comma - start));
    start = comma + 1;
  }
  const auto refuse = [](std::string_view reason) {
    std::cerr << "chat-token: " << reason << " (--sub must be 1 to " << chat::auth::kMaxSubjectBytes
              << " bytes of UTF-8; --rooms up to " << chat::auth::RoomGrant::kMaxEntries << " names)\n";
    return 2;
  };
  const auto now = chat::auth::Clock::now();
  std::string token;
  try {
    token = chat::auth::mint_token(file.secret, subject, now + std::chrono::seconds(ttl), now, claims);
  } catch (const std::invalid_argument& e) {
    return refuse(e.what());
  }
  // Checked as the plugins will check it, so that a subject or rooms they
  // would refuse fail here and not at the first login.
  chat::auth::TokenPolicy policy;
  policy.max_ttl = std::chrono::seconds(kMaxTtlSeconds);
  const auto check = chat::auth::TokenVerifier(std::move(file.secret), policy).verify(token, now);
  if (!check.ok()) return refuse(check.error);
  std::cout << token << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const po::error& e) {
    std::cerr << "chat-token: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "chat-token: " << e.what() << "\n";
    return 1;
  }
}
