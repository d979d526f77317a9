// Chat services served by this very process, for bridges in the same host.
//
// In the all-in-one host (and any host that runs grpc-chat beside a
// bridge), a bridge's calls to the service need not cross a loopback
// socket: a channel from here takes gRPC's in-process transport, with the
// same calls, metadata and caller checks, and no TCP, HTTP/2 framing or
// poller wake-ups between the two plugins. Only plaintext services are
// offered (TLS protects a network this path never crosses, and a client
// certificate cannot be presented on it).
//
// Process-wide: it lives in libchat_proto, which every plugin links and the
// process loads once.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace chat::in_process {

using ChannelMaker = std::function<std::shared_ptr<grpc::Channel>(const grpc::ChannelArguments&)>;

// The service listening on `listen_host`:`port` (as configured: a name, an
// address or a wildcard) is served here; `make` opens an in-process channel
// to it. Called while `make` may be called, under the registry's lock.
void publish(std::string listen_host, int port, ChannelMaker make);
// Before the server goes: no channel is made to it afterwards.
void withdraw(int port);

// An in-process channel to the service this process serves on `port`,
// when `reaches(its listen host)` says the bridge's target is that address;
// else nullptr. Which targets reach which listen hosts is the bridges' rule
// (chat::tls::make_chat_channel).
std::shared_ptr<grpc::Channel> channel_to(int port, const std::function<bool(std::string_view)>& reaches,
                                          const grpc::ChannelArguments& args);

}  // namespace chat::in_process
