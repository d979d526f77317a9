// Asking the chat service for several events per stream message (chat.Batch,
// docs/protocol.md "Batches"): a stream that carries many clients' events,
// as a bridge's does, sets this metadata on its Chat call. A stream without
// it gets one event per message, as the protocol's first clients expect.
#pragma once

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <string>

namespace chat::batches {

inline const std::string kMetadataKey = "chat-batches";

inline void ask(grpc::ClientContext& context) { context.AddMetadata(kMetadataKey, "1"); }

inline bool asked(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(kMetadataKey);
  return it != metadata.end() && it->second == "1";
}

}  // namespace chat::batches
