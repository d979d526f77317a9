// chat::auth::read_secret_file: what the plugins and chat-token accept as
// the token secret.
#include "auth/secret_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace chat::auth {
namespace {

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("secret-file-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content, std::filesystem::perms perms =
                                                                             std::filesystem::perms::owner_read |
                                                                             std::filesystem::perms::owner_write) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    std::filesystem::permissions(path, perms);
    return path.string();
  }

  std::filesystem::path dir_;
};

const std::string k32(32, 's');

TEST_F(SecretFileTest, ReadsTheBytesWithoutOneTrailingLineBreak) {
  EXPECT_EQ(read_secret_file(write("plain", k32)).secret, k32);
  EXPECT_EQ(read_secret_file(write("lf", k32 + "\n")).secret, k32);
  EXPECT_EQ(read_secret_file(write("crlf", k32 + "\r\n")).secret, k32);
  EXPECT_EQ(read_secret_file(write("two", k32 + "\n\n")).secret, k32 + "\n");
  EXPECT_EQ(read_secret_file(write("binary", std::string("\0\1\2", 3) + k32)).secret, std::string("\0\1\2", 3) + k32);
  const auto ok = read_secret_file(write("ok", k32));
  EXPECT_TRUE(ok.error.empty());
  EXPECT_FALSE(ok.readable_by_others);
}

TEST_F(SecretFileTest, RefusesAShortSecretNamingTheFile) {
  const auto path = write("short", std::string(31, 's') + "\n");
  const auto file = read_secret_file(path);
  EXPECT_TRUE(file.secret.empty());
  EXPECT_NE(file.error.find(path), std::string::npos) << file.error;
  EXPECT_NE(file.error.find("is 31 bytes; at least 32"), std::string::npos) << file.error;
  EXPECT_FALSE(read_secret_file(write("empty", "")).error.empty());
}

TEST_F(SecretFileTest, RefusesWhatCannotBeReadNamingTheFile) {
  const auto missing = (dir_ / "missing").string();
  auto file = read_secret_file(missing);
  EXPECT_NE(file.error.find("cannot read the secret file " + missing + ": No such file or directory"),
            std::string::npos)
      << file.error;
  file = read_secret_file(dir_.string());
  EXPECT_NE(file.error.find("is not a regular file"), std::string::npos) << file.error;
  file = read_secret_file(write("huge", std::string(kMaxSecretFileBytes + 1, 'x')));
  EXPECT_NE(file.error.find("larger than"), std::string::npos) << file.error;
  if (::geteuid() != 0) {  // root reads anything
    file = read_secret_file(write("unreadable", k32, std::filesystem::perms::none));
    EXPECT_NE(file.error.find("Permission denied"), std::string::npos) << file.error;
  }
}

TEST_F(SecretFileTest, SaysWhenOthersMayReadIt) {
  using std::filesystem::perms;
  EXPECT_TRUE(read_secret_file(write("shared", k32, perms::owner_read | perms::group_read)).readable_by_others);
  EXPECT_TRUE(read_secret_file(write("world", k32, perms::owner_read | perms::others_read)).readable_by_others);
}

}  // namespace
}  // namespace chat::auth
