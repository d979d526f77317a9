// Several frames per stream message (chat.Batch, docs/protocol.md "batch"):
// a stream that carries many clients' frames, as a bridge's does, asks with
// this metadata on its Chat call; a chat service that takes batches answers
// with the same key in its initial metadata, and from then on both sides may
// pack what waits into one message. A stream without it gets one event per
// message, as the protocol's first clients expect.
#pragma once

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include <string>

namespace chat::batches {

inline const std::string kMetadataKey = "chat-batches";

inline void ask(grpc::ClientContext& context) { context.AddMetadata(kMetadataKey, "1"); }

// The server's answer, before its initial metadata goes out.
inline void answer(grpc::ServerContextBase& context) { context.AddInitialMetadata(kMetadataKey, "1"); }

// Whether the server answered: the client may send batches.
inline bool answered(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  const auto it = metadata.find(kMetadataKey);
  return it != metadata.end() && it->second == "1";
}

inline bool asked(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(kMetadataKey);
  return it != metadata.end() && it->second == "1";
}

}  // namespace chat::batches
