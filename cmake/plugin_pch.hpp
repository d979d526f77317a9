// The precompiled header of the Beast/gRPC plugins (ws-proxy, history-http;
// chat_use_plugin_pch in cmake/ChatPlugin.cmake): the third-party headers
// nearly every one of their files includes, parsed once instead of in each
// file. Only what those files include anyway belongs here; a file still
// includes what it uses itself.
#pragma once

#include "fmt_extern.hpp"  // first: it must precede every use of fmt

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>
#include <chathost/plugin.hpp>
#include <grpcpp/grpcpp.h>
#include <spdlog/logger.h>

#include "chat.grpc.pb.h"
