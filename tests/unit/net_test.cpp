// Addresses as the config gives them: loopback or not, host:port, and the
// list of chat nodes a bridge talks to.
#include "net/chat_nodes.hpp"
#include "net/listen_address.hpp"

#include <gtest/gtest.h>

namespace chat::net {
namespace {

using Targets = std::vector<std::string>;

TEST(ListenAddress, LoopbackIsOnlyThisMachine) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("chat.example.org"));
  EXPECT_EQ(host_port("10.0.0.1", 50051), "10.0.0.1:50051");
  EXPECT_EQ(host_port("::1", 50051), "[::1]:50051");
  EXPECT_EQ(host_port("[::1]", 50051), "[::1]:50051");
}

TEST(ChatNodes, OneHostTakesTheDefaultPort) {
  EXPECT_EQ(parse_chat_nodes("chat-a", 50051).targets, Targets{"chat-a:50051"});
  EXPECT_EQ(parse_chat_nodes("10.0.0.1:6000", 50051).targets, Targets{"10.0.0.1:6000"});
}

TEST(ChatNodes, AListKeepsItsOrderAndEachEntryItsOwnPort) {
  EXPECT_EQ(parse_chat_nodes("a, b:6001 ,[::1]:6002,::1,[fe80::1]", 50051).targets,
            (Targets{"a:50051", "b:6001", "[::1]:6002", "[::1]:50051", "[fe80::1]:50051"}));
}

TEST(ChatNodes, AnyAddressMeansThisMachine) {
  EXPECT_EQ(parse_chat_nodes("0.0.0.0,::,[::]:7000", 50051).targets,
            (Targets{"127.0.0.1:50051", "[::1]:50051", "[::1]:7000"}));
}

TEST(ChatNodes, MalformedEntriesAreNamed) {
  for (const char* bad : {"", "a,,b", "a,", "a:0", "a:65536", "a:port", "[::1", "[::1]x", "a b", "a/b"}) {
    const auto nodes = parse_chat_nodes(bad, 50051);
    EXPECT_TRUE(nodes.targets.empty()) << bad;
    EXPECT_FALSE(nodes.error.empty()) << bad;
  }
  EXPECT_NE(parse_chat_nodes("a:99999", 50051).error.find("a:99999"), std::string::npos);
}

}  // namespace
}  // namespace chat::net
