// Tests of the harness itself (chat_test_support), with /bin/sh as the child,
// so a failure here points at the harness rather than at the host.
#include "support/host_process.hpp"
#include "support/test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <system_error>
#include <thread>

namespace chathost::test {
namespace {

using ::testing::HasSubstr;

ProcessOptions shell(const std::string& script) { return {.executable = "/bin/sh", .args = {"-c", script}}; }

TEST(HostProcessTest, CapturesStdoutAndStderrSeparately) {
  HostProcess child(shell("echo out1; echo err1 >&2; echo out2; printf 'no newline' >&2"));
  EXPECT_EQ(child.wait_exit(), 0);
  EXPECT_EQ(child.output(Stream::Stdout), "out1\nout2\n");
  EXPECT_EQ(child.output(Stream::Stderr), "err1\nno newline\n");
  EXPECT_EQ(child.lines().size(), 4U);
}

TEST(HostProcessTest, WaitForLineReturnsGroupsAndIndex) {
  HostProcess child(shell("echo first; sleep 0.1; echo 'port is 4242'; echo 'port is 4343'"));
  auto match = child.wait_for_line(std::regex(R"(port is (\d+))"));
  ASSERT_TRUE(match) << child.output();
  EXPECT_EQ(match->line, "port is 4242");
  EXPECT_EQ((*match)[1], "4242");
  EXPECT_EQ(match->index, 1U);
  EXPECT_EQ(match->stream, Stream::Stdout);
  auto next = child.wait_for_line(std::regex(R"(port is (\d+))"), kDefaultTimeout, match->index + 1);
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)[1], "4343");
  EXPECT_FALSE(child.wait_for_line(std::regex("port"), kDefaultTimeout, 0, Stream::Stderr));
}

TEST(HostProcessTest, WaitForLineGivesUpWhenTheChildIsGone) {
  HostProcess child(shell("echo only"));
  const auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(child.wait_for_line(std::regex("never"), 30s));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST(HostProcessTest, WaitForLineTimesOut) {
  HostProcess child(shell("exec sleep 30"));
  const auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(child.wait_for_line(std::regex("x"), 100ms));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 100ms);
  EXPECT_FALSE(child.wait_exit(50ms));
  EXPECT_TRUE(child.running());
}

TEST(HostProcessTest, ReportsExitCodesAndSignals) {
  HostProcess exits(shell("exit 3"));
  EXPECT_EQ(exits.wait_exit(), 3);
  EXPECT_FALSE(exits.term_signal());
  EXPECT_FALSE(exits.signal(SIGTERM)) << "a reaped child must not be signalled";

  HostProcess killed(shell("echo up; exec sleep 30"));
  ASSERT_TRUE(killed.wait_for_line(std::regex("up")));
  ASSERT_TRUE(killed.signal(SIGKILL));
  EXPECT_EQ(killed.wait_exit(), 128 + SIGKILL);
  EXPECT_EQ(killed.term_signal(), SIGKILL);
}

TEST(HostProcessTest, EnvironmentAndWorkingDirectory) {
  TempDir dir;
  ::setenv("CHATHOST_HARNESS_INHERITED", "yes", 1);
  ::setenv("CHATHOST_HARNESS_REMOVED", "yes", 1);
  HostProcess child({.executable = "sh",  // found through PATH
                     .args = {"-c",
                              "echo \"$CHATHOST_HARNESS_SET|$CHATHOST_HARNESS_INHERITED|"
                              "${CHATHOST_HARNESS_REMOVED-unset}\"; pwd; read line || echo stdin-empty"},
                     .env = {{"CHATHOST_HARNESS_SET", "a b"}},
                     .unset_env = {"CHATHOST_HARNESS_REMOVED"},
                     .working_dir = dir.path()});
  ::unsetenv("CHATHOST_HARNESS_INHERITED");
  ::unsetenv("CHATHOST_HARNESS_REMOVED");
  EXPECT_EQ(child.wait_exit(), 0);
  EXPECT_EQ(child.output(), "a b|yes|unset\n" + std::filesystem::canonical(dir.path()).string() + "\nstdin-empty\n");
}

TEST(HostProcessTest, OnlyTheGivenEnvironmentWithoutInheritance) {
  HostProcess child({.executable = "/bin/sh",
                     .args = {"-c", "echo \"${HOME-no-home}|$ONLY\""},
                     .env = {{"ONLY", "this"}},
                     .inherit_env = false});
  EXPECT_EQ(child.wait_exit(), 0);
  EXPECT_EQ(child.output(), "no-home|this\n");
}

TEST(HostProcessTest, GrandchildHoldingThePipesDoesNotBlockWaitExit) {
  HostProcess child(shell("sleep 2 & echo parent done"));
  const auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(child.wait_exit(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1500ms);
  EXPECT_EQ(child.output(), "parent done\n");
}

TEST(HostProcessTest, StartFailuresThrow) {
  EXPECT_THROW(HostProcess({.executable = "/nonexistent/chat-host"}), std::system_error);
  EXPECT_THROW(HostProcess({.executable = "/bin/sh", .working_dir = "/nonexistent-dir"}), std::system_error);
}

TEST(HostProcessTest, DestructorKillsTheChild) {
  pid_t pid = 0;
  {
    HostProcess child(shell("trap '' TERM; echo up; exec sleep 30"));
    ASSERT_TRUE(child.wait_for_line(std::regex("up")));
    pid = child.pid();
  }
  // Reaped: the pid is no longer ours (or anybody's, barring reuse).
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(HostProcessTest, SignalReachesTheChildUnblocked) {
  HostProcess child(shell("trap 'echo got TERM; exit 7' TERM; echo up; while :; do sleep 0.05; done"));
  ASSERT_TRUE(child.wait_for_line(std::regex("up")));
  ASSERT_TRUE(child.signal(SIGTERM));
  EXPECT_EQ(child.wait_exit(), 7);
  EXPECT_THAT(child.output(), HasSubstr("got TERM"));
}

TEST(TestHelpersTest, FreePortListenerAndClient) {
  const auto port = free_tcp_port();
  EXPECT_NE(port, 0);
  EXPECT_FALSE(can_connect("127.0.0.1", port, 500ms));
  EXPECT_FALSE(connect_and_read_line("127.0.0.1", port, 500ms));
  {
    TcpListener listener(port);
    EXPECT_EQ(listener.port(), port);
    EXPECT_TRUE(can_connect("127.0.0.1", port, 500ms));
    EXPECT_THROW(TcpListener{port}, std::system_error);
    // Accepted by the kernel but never answered: read times out.
    const auto began = std::chrono::steady_clock::now();
    EXPECT_FALSE(connect_and_read_line("localhost", port, 200ms));
    EXPECT_GE(std::chrono::steady_clock::now() - began, 200ms);
  }
  EXPECT_FALSE(can_connect("127.0.0.1", port, 500ms));
}

TEST(TestHelpersTest, FilesAndTempDirs) {
  std::filesystem::path kept;
  {
    TempDir dir;
    kept = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(kept));
    EXPECT_THAT(kept.filename().string(), HasSubstr("TestHelpersTest_FilesAndTempDirs"));
    write_file(dir / "a" / "b.txt", "one\ntwo");
    EXPECT_EQ(read_file(dir / "a" / "b.txt"), "one\ntwo");
    write_file(dir / "a" / "b.txt", "3");
    EXPECT_EQ(read_file(dir / "a" / "b.txt"), "3");
    const auto other = make_temp_dir();
    EXPECT_NE(other, dir.path());
    std::filesystem::remove(other);
  }
  EXPECT_FALSE(std::filesystem::exists(kept));
}

}  // namespace
}  // namespace chathost::test
