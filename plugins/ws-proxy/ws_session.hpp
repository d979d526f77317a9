// One WebSocket connection, in the shape of Beast's async server examples
// (a session per connection, one thread at a time, do_read/on_read, one write in
// flight), with its own RFC 6455 framing (ws_codec.hpp) instead of
// beast::websocket::stream. Writing frames ourselves is what lets a session
// send every frame queued for it with one system call, and keeps an idle
// connection small: it owns no read buffer (reads go to a per-thread one)
// and nothing else that grows until traffic comes.
//
// The upgrade: reads the HTTP request (Beast's parser) and answers what
// decide_upgrade (upgrade_decision.hpp) says of its path, query, token and
// Origin (the connection limits were applied at accept, by the listener's
// ConnectionGate). Then: reads
// frames as they come and hands each message to the Bridge; answers pings;
// pings a silent client after half the idle timeout and drops it after all
// of it; closes with the code the protocol asks for.
//
// Everything runs on the thread of the session's shard (io_shards.hpp),
// send() included: frames from the chat service come through the Fanout,
// which posts them there. close() may be called from any thread. The
// outgoing queue holds shared frames and is
// bounded: a client that does not read fast enough is closed with 1008
// (policy violation) and one log line, and nobody else waits for it. Pongs
// count toward that bound too, though at most one is ever kept (RFC 6455
// lets a server answer only the latest ping): a client that pings without
// reading is closed like one that chats without reading, and pings count
// toward the client's frame rate too. Once closing, a
// session reads nothing more until its close frame is out, so a client that
// never reads cannot make it read (and drop) without end.
//
// With a certificate (wss://) the same session runs over TLS: the TLS
// handshake comes first, reads go through OpenSSL into a buffer of the
// session's own, and a batch of frames is copied into one buffer so it
// still leaves in one TLS write.
#pragma once

#include "bridge.hpp"
#include "client.hpp"
#include "heartbeat.hpp"
#include "limits/connection_gate.hpp"
#include "limits/token_bucket.hpp"
#include "outbox.hpp"
#include "upgrade_decision.hpp"
#include "ws_codec.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace chat::proxy {

class WsSession final : public RoutedClient, public std::enable_shared_from_this<WsSession> {
 public:
  // `shard`: the IoShards index the socket runs on. `ticket`: the socket's
  // slot of the listener's ConnectionGate, held until the session ends.
  WsSession(boost::asio::ip::tcp::socket&& socket, std::size_t shard, Bridge& bridge, std::uint64_t id,
            chat::limits::ConnectionGate::Ticket ticket);
  ~WsSession() override;

  // Starts reading the upgrade request.
  void run();

  std::uint64_t id() const override { return id_; }
  void send(Frame frame) override;
  void send_replayed(Frame frame) override;
  ClientKind kind() const override { return kind_.load(std::memory_order_relaxed); }
  std::size_t shard() const override { return shard_; }
  void set_full_protocol() override { kind_.store(ClientKind::full_protocol, std::memory_order_relaxed); }

  // Closes the connection with `code`, after what is queued; any thread.
  void close(ws::CloseCode code, std::string reason);

  // Strand only (the FrameRouter uses it from on_text, opened and closed).
  ClientState& chat_state() override { return chat_state_; }

 private:
  using Clock = std::chrono::steady_clock;

  // The TLS layer and the upgrade request's reader, defined where they are
  // used, so that only ws_session.cpp compiles OpenSSL streams and Beast's
  // HTTP parser.
  struct Tls;
  struct Upgrade;

  // The upgrade
  void on_tls_handshake(boost::system::error_code ec);
  void do_read_request();
  void parse_request();
  void on_request_bytes(boost::system::error_code ec, std::size_t bytes);
  void on_read_request(boost::system::error_code ec);
  // Writes the upgrade's answer (decide_upgrade's): 101 and the frames
  // begin, or a refusal and the connection ends.
  void answer(UpgradeDecision decision);
  void on_handshake_written(boost::system::error_code ec, std::size_t bytes);
  void on_refusal_written(boost::system::error_code ec, std::size_t bytes);
  void drain_then_close();

  // Reading
  void do_read();
  void on_readable(boost::system::error_code ec);
  void on_tls_read(boost::system::error_code ec, std::size_t bytes);
  // Returns false once no more should be read.
  bool consume(char* data, std::size_t size);
  void on_event(const ws::Event& event);
  void on_message(std::string_view text, bool is_text);
  void refuse_fast_frame(std::string_view text, bool is_text);
  // Pings and pongs count toward the client's rate as messages do: one
  // past it gets no answer (RFC 6455 lets a server answer only some pings),
  // and rate_limit_strikes of them in a row close the connection with 1008.
  bool take_control_rate();

  // Writing. Every write goes through write_out, with one buffer type and
  // one handler type, so each stream compiles one write operation.
  void write_out(std::span<const boost::asio::const_buffer> buffers,
                 void (WsSession::*on_written)(boost::system::error_code, std::size_t));
  // send() and send_replayed(): queues `frame` unless the queue is over its bounds.
  void enqueue(Frame frame, bool replayed);
  Outbox::Limits outbox_limits() const;
  // Our heartbeat ping and the pong to the client's latest ping: each at
  // most once in the next write.
  void queue_ping();
  void queue_pong(std::string_view payload);
  void start_control_write();
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void drop_slow();

  // Timing: the handshake deadline, then the heartbeat and the token's
  // expiry, then the close deadline.
  void arm_timer(Clock::duration after);
  void arm_heartbeat();
  void on_timer(boost::system::error_code ec);

  // Closing. `flush`: write what is queued first (a slow client gets nothing more).
  void do_close(ws::CloseCode code, std::string_view reason, bool flush);
  void finish_close();
  void hard_close();
  void end();
  void fail(boost::system::error_code ec, const char* what);

  boost::asio::ip::tcp::socket socket_;
  chat::limits::ConnectionGate::Ticket ticket_;
  // wss:// only: TLS over socket_, and what it reads into.
  std::unique_ptr<Tls> tls_;
  std::unique_ptr<char[]> tls_read_buffer_;
  std::string tls_write_buffer_;
  boost::asio::steady_timer timer_;
  Bridge& bridge_;
  const std::size_t shard_;
  const std::uint64_t id_;
  std::string peer_;

  // The upgrade: only until it is answered.
  std::unique_ptr<Upgrade> upgrade_;
  std::string handshake_answer_;
  boost::asio::const_buffer handshake_buffer_;
  UpgradeTarget target_;
  std::optional<Clock::time_point> token_expires_;  // when tokens are on and the token has exp
  bool opened_ = false;    // upgraded and known to the bridge

  // Reading
  ws::FrameParser frames_;
  bool reading_ = true;  // false after the client's close frame or a protocol error
  bool read_paused_ = false;  // closing: no read until our close frame is out
  std::size_t close_read_budget_ = 0;  // bytes still read, once our close frame is out
  std::optional<Heartbeat> heartbeat_;  // from the upgrade on
  chat::limits::TokenBucket rate_;
  std::size_t strikes_ = 0;  // frames refused in a row for rate
  ClientState chat_state_;
  std::atomic<ClientKind> kind_{ClientKind::messages_only};

  // Writing: the batch being written.
  std::vector<Frame> in_flight_;
  std::vector<boost::asio::const_buffer> buffers_;
  std::string pong_;               // the answer to the latest ping, waiting for the next write
  bool ping_due_ = false;          // our heartbeat ping, waiting for the next write
  std::string control_in_flight_;  // the pong and ping being written
  std::string close_frame_;        // ours, once closing
  bool close_in_flight_ = false;

  // Closing
  bool closing_ = false;      // no more frames handled; the close frame follows the queue
  bool close_written_ = false;
  bool peer_closed_ = false;  // the client's close frame came, or it broke the protocol
  bool ended_ = false;

  // Outgoing: what send() queued, not written yet (closed: takes no more).
  Outbox outbox_;
  bool slow_by_bytes_ = false;    // what the outbox went over, for the log line
  bool write_scheduled_ = false;  // a do_write is posted or a write is in flight
};

}  // namespace chat::proxy
