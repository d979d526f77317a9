// Which targets a bridge reaches in-process: the service's own port, from
// a host name that reaches its listen address.
#include "in_process_services.hpp"
#include "tls/grpc_credentials.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chat::in_process {
namespace {

class InProcessServicesTest : public ::testing::Test {
 protected:
  // Publishes a service whose channel maker only counts its calls.
  void serve(const std::string& listen_host, int port) {
    ports_.push_back(port);
    publish(listen_host, port, [this](const grpc::ChannelArguments&) {
      ++made_;
      return std::shared_ptr<grpc::Channel>();
    });
  }
  // Whether asking for `target` made an in-process channel.
  bool reached(const std::string& target) {
    const int before = made_;
    chat::tls::in_process_channel(target, grpc::ChannelArguments());
    return made_ > before;
  }
  ~InProcessServicesTest() override {
    for (const int port : ports_) withdraw(port);
  }

  int made_ = 0;
  std::vector<int> ports_;
};

TEST_F(InProcessServicesTest, ALoopbackServiceIsReachedByEveryLoopbackNameOfItsPort) {
  serve("127.0.0.1", 41001);
  EXPECT_TRUE(reached("127.0.0.1:41001"));
  EXPECT_TRUE(reached("localhost:41001"));
  EXPECT_TRUE(reached("[::1]:41001"));
  EXPECT_FALSE(reached("127.0.0.1:41002"));
  EXPECT_FALSE(reached("10.1.2.3:41001"));
}

TEST_F(InProcessServicesTest, AServiceOnEveryAddressIsReachedOverLoopbackOnly) {
  serve("0.0.0.0", 41003);
  EXPECT_TRUE(reached("localhost:41003"));
  EXPECT_TRUE(reached("127.0.0.1:41003"));
  // Maybe this machine, maybe another: the socket decides.
  EXPECT_FALSE(reached("10.1.2.3:41003"));
}

TEST_F(InProcessServicesTest, AServiceOnOneAddressIsReachedByThatAddressOnly) {
  serve("10.1.2.3", 41004);
  EXPECT_TRUE(reached("10.1.2.3:41004"));
  EXPECT_FALSE(reached("localhost:41004"));
  serve("::1", 41005);
  EXPECT_TRUE(reached("[::1]:41005"));
}

TEST_F(InProcessServicesTest, AWithdrawnServiceAndMalformedTargetsAreNotReached) {
  serve("127.0.0.1", 41006);
  withdraw(41006);
  EXPECT_FALSE(reached("127.0.0.1:41006"));
  serve("127.0.0.1", 41007);
  EXPECT_FALSE(reached("127.0.0.1"));
  EXPECT_FALSE(reached("127.0.0.1:"));
  EXPECT_FALSE(reached("127.0.0.1:41007x"));
}

}  // namespace
}  // namespace chat::in_process
