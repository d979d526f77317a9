// chat-token: prints a bearer token for one user, signed with the secret
// that ws-proxy and history-http check tokens against (auth_secret_file).
//
//   chat-token --secret-file /etc/chat-host/token-secret --sub alice --ttl 3600
#include "auth/jwt.hpp"
#include "auth/secret_file.hpp"

#include <boost/program_options.hpp>

#include <cstdint>
#include <iostream>
#include <string>

namespace {

namespace po = boost::program_options;

constexpr std::int64_t kMaxTtlSeconds = 366LL * 24 * 3600;

int run(int argc, char** argv) {
  std::string secret_file;
  std::string subject;
  std::int64_t ttl = 3600;
  po::options_description options("chat-token: issues a bearer token (JWT, HS256) for chat-host.\n\nOptions");
  options.add_options()
      ("help,h", "this help")
      ("secret-file", po::value(&secret_file)->value_name("FILE"),
       "file holding the secret, as auth_secret_file of ws-proxy and history-http (required)")
      ("sub", po::value(&subject)->value_name("USER"), "the user id the token stands for (required)")
      ("ttl", po::value(&ttl)->value_name("SECONDS")->default_value(ttl),
       "how long the token is valid, 1 second to 366 days");
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
  const auto now = chat::auth::Clock::now();
  const auto token = chat::auth::mint_token(file.secret, subject, now + std::chrono::seconds(ttl), now);
  // Checked as the plugins will check it, so that a subject they would
  // refuse (too long, not UTF-8) fails here and not at the first login.
  const auto check = chat::auth::TokenVerifier(std::move(file.secret)).verify(token, now);
  if (!check.ok()) {
    std::cerr << "chat-token: " << check.error << " (--sub must be 1 to " << chat::auth::kMaxSubjectBytes
              << " bytes of UTF-8)\n";
    return 2;
  }
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
