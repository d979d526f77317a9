// One WebSocket connection (Beast's async server example, hardened): reads
// the HTTP upgrade request and checks path, query, Origin and the connection
// limit before answering 101; then reads frames one at a time and hands them
// to the Bridge; writes what is queued for it, one write in flight.
//
// Everything runs on the session's strand except send() and close(), which
// any thread may call. The outgoing queue holds shared frames (one
// serialized message shared by all its recipients) and is bounded: a client
// that does not read fast enough is closed with 1008 (policy violation) and
// one log line, and nobody else waits for it.
#pragma once

#include "bridge.hpp"
#include "client.hpp"
#include "token_bucket.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace chat::proxy {

class WsSession final : public Client, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(boost::asio::ip::tcp::socket&& socket, Bridge& bridge, std::uint64_t id);
  ~WsSession() override;

  // Starts reading the upgrade request.
  void run();

  std::uint64_t id() const override { return id_; }
  void send(Frame frame) override;
  bool speaks_events() const override { return speaks_events_.load(std::memory_order_relaxed); }
  void set_speaks_events() { speaks_events_.store(true, std::memory_order_relaxed); }

  // Closes the connection with `code`; any thread.
  void close(boost::beast::websocket::close_code code, std::string reason);

  // Strand only (the Bridge calls it from on_text, opened and closed).
  ClientState& chat_state() { return chat_state_; }

 private:
  using Request = boost::beast::http::request<boost::beast::http::empty_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void do_read_request();
  void on_read_request(boost::beast::error_code ec, std::size_t bytes);
  void refuse(boost::beast::http::status status, std::string why);
  void on_refused(boost::beast::error_code ec, std::size_t bytes);
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle_frame();
  void refuse_fast_frame();
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void drop_slow();
  // `flush`: write what is queued first (a slow client gets nothing more).
  void do_close(boost::beast::websocket::close_code code, std::string reason, bool flush);
  void start_close();
  void on_close(boost::beast::error_code ec);
  void on_close_timeout(boost::beast::error_code ec);
  void end();
  void fail(boost::beast::error_code ec, const char* what);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  Bridge& bridge_;
  const std::uint64_t id_;
  std::string peer_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  std::unique_ptr<Response> refusal_;
  UpgradeTarget target_;
  bool admitted_ = false;  // holds a connection slot
  bool opened_ = false;    // upgraded and known to the bridge
  bool ended_ = false;
  bool closing_ = false;        // no more frames handled; closing once the queue is written
  bool close_started_ = false;  // the close frame is on its way
  boost::beast::websocket::close_reason close_reason_;
  std::optional<boost::asio::steady_timer> close_timer_;
  TokenBucket rate_;
  std::size_t strikes_ = 0;  // frames refused in a row for rate
  ClientState chat_state_;
  std::atomic<bool> speaks_events_{false};

  // Outgoing, shared with send() on other threads.
  std::mutex out_mutex_;
  std::deque<Frame> outbox_;
  Frame in_flight_;
  bool write_scheduled_ = false;  // a do_write is posted or a write is in flight
  bool out_closed_ = false;       // takes no more frames
};

}  // namespace chat::proxy
