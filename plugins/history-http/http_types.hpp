// The Beast types every part of history-http speaks: messages only. Reading
// and writing them on a connection is http_session.cpp's business alone, so
// no other file compiles Beast's parser, serializer or stream operations.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/optional/optional.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace chat::history_http {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// A response's bytes, shared rather than owned: a history page or a static
// file is built once and sent to every client that asks for it, each
// response pointing at the same bytes instead of carrying its own copy
// (25 KB a history page: copying it into every answer, and malloc giving
// that memory back and taking it again, was a tenth of an answer's cost).
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}  // NOLINT: implicit
  SharedText(std::shared_ptr<const std::string> text) : text_(std::move(text)) {}  // NOLINT: implicit

  std::string_view view() const { return text_ ? std::string_view(*text_) : std::string_view(); }
  std::size_t size() const { return text_ ? text_->size() : 0; }
  bool empty() const { return size() == 0; }
  void clear() { text_.reset(); }

 private:
  std::shared_ptr<const std::string> text_;
};

// Beast's body for a SharedText: what the serializer sends, never parsed.
struct SharedTextBody {
  using value_type = SharedText;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class writer {
   public:
    using const_buffers_type = net::const_buffer;

    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>& /*header*/, const value_type& body) : body_(body) {}

    void init(beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      const auto bytes = body_.view();
      return {{net::const_buffer(bytes.data(), bytes.size()), false}};
    }

   private:
    const value_type& body_;
  };
};

using Request = http::request<http::string_body>;
using Response = http::response<SharedTextBody>;

// Hands a finished response back to its connection. Called exactly once per
// request, from any thread (a gRPC callback, say); the connection moves it
// onto its own strand. `hold`: kept by the connection until the response is
// written (a history answer's share of the HistoryBudget), or null.
using Reply = std::function<void(Response, std::shared_ptr<const void> hold)>;

}  // namespace chat::history_http
