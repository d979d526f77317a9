#include "support/ws_client.hpp"

#include "chat_json.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace chathost::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct WsIo::State {
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
  std::vector<std::thread> threads;
};

WsIo::WsIo(std::size_t threads) : state_(std::make_unique<State>()) {
  for (std::size_t i = 0; i < threads; ++i) state_->threads.emplace_back([this] { state_->io.run(); });
}

WsIo::~WsIo() {
  state_->work.reset();
  state_->io.stop();
  for (auto& thread : state_->threads) thread.join();
}

// Everything below runs on the client's strand, except the waits.
struct WsClient::Impl : std::enable_shared_from_this<WsClient::Impl> {
  explicit Impl(net::io_context& io) : ws(net::make_strand(io)) {}

  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buffer;
  websocket::response_type response;
  std::deque<std::pair<std::string, bool>> outbox;  // frame, binary
  bool writing = false;
  bool reading = false;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> texts;
  std::vector<chat::ChatStream> events;
  std::optional<WsClosed> closed;

  // Connects and upgrades; the promise gets the error (or success).
  void connect(const WsOptions& options, std::promise<beast::error_code>& done) {
    beast::error_code ec;
    const tcp::endpoint endpoint(net::ip::make_address(options.host, ec), options.port);
    if (ec) return done.set_value(ec);
    auto& socket = beast::get_lowest_layer(ws).socket();
    socket.open(endpoint.protocol(), ec);
    if (!ec && options.receive_buffer_bytes > 0) {
      socket.set_option(net::socket_base::receive_buffer_size(options.receive_buffer_bytes), ec);
    }
    if (ec) return done.set_value(ec);
    if (options.origin) {
      ws.set_option(websocket::stream_base::decorator(
          [origin = *options.origin](websocket::request_type& request) { request.set(beast::http::field::origin, origin); }));
    }
    beast::get_lowest_layer(ws).expires_after(options.timeout);
    const std::string host = options.host + ":" + std::to_string(options.port);
    beast::get_lowest_layer(ws).async_connect(
        endpoint, [self = shared_from_this(), &done, host, target = options.target](beast::error_code connect_ec) {
          if (connect_ec) return done.set_value(connect_ec);
          self->ws.async_handshake(self->response, host, target, [self, &done](beast::error_code handshake_ec) {
            beast::get_lowest_layer(self->ws).expires_never();
            done.set_value(handshake_ec);
          });
        });
  }

  void do_read() {
    reading = true;
    ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      WsClosed how;
      // A close frame may have come even when tearing the connection down
      // failed afterwards (the server closed its socket first).
      if (ws.reason().code != websocket::close_code::none) {
        how.code = static_cast<int>(ws.reason().code);
        how.reason = std::string(ws.reason().reason.c_str());
      }
      if (ec != websocket::error::closed) how.error = ec.message();
      std::lock_guard lock(mutex);
      closed = std::move(how);
      changed.notify_all();
      return;
    }
    std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    chat::ChatStream event;
    const bool parsed = chat::json::decode(text, event).empty();
    {
      std::lock_guard lock(mutex);
      texts.push_back(std::move(text));
      if (parsed) events.push_back(std::move(event));
      changed.notify_all();
    }
    do_read();
  }

  void queue(std::string data, bool binary) {
    outbox.emplace_back(std::move(data), binary);
    if (!writing) do_write();
  }

  void do_write() {
    if (outbox.empty()) {
      writing = false;
      return;
    }
    writing = true;
    ws.binary(outbox.front().second);
    ws.async_write(net::buffer(outbox.front().first), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->outbox.pop_front();
      if (ec) {
        self->outbox.clear();
        self->writing = false;
        return;
      }
      self->do_write();
    });
  }
};

namespace {

std::shared_ptr<WsIo> own_io(std::shared_ptr<WsIo> io) { return io ? io : std::make_shared<WsIo>(1); }

}  // namespace

UpgradeAnswer try_upgrade(const WsOptions& options) {
  WsIo io(1);
  auto impl = std::make_shared<WsClient::Impl>(io.state().io);
  std::promise<beast::error_code> done;
  auto result = done.get_future();
  net::post(impl->ws.get_executor(), [&] { impl->connect(options, done); });
  UpgradeAnswer answer;
  if (result.wait_for(options.timeout + std::chrono::seconds(1)) != std::future_status::ready) {
    answer.error = "no answer";
    net::post(impl->ws.get_executor(), [impl] { beast::get_lowest_layer(impl->ws).close(); });
    result.wait();
    return answer;
  }
  const beast::error_code ec = result.get();
  answer.status = static_cast<int>(impl->response.result_int());
  answer.body = impl->response.body();
  if (ec && ec != websocket::error::upgrade_declined) answer.error = ec.message();
  net::post(impl->ws.get_executor(), [impl] {
    beast::error_code ignored;
    beast::get_lowest_layer(impl->ws).socket().close(ignored);
  });
  return answer;
}

WsClient::WsClient(WsOptions options, std::shared_ptr<WsIo> io) : io_(own_io(std::move(io))) {
  impl_ = std::make_shared<Impl>(io_->state().io);
  std::promise<beast::error_code> done;
  auto result = done.get_future();
  net::post(impl_->ws.get_executor(), [&, impl = impl_] { impl->connect(options, done); });
  if (result.wait_for(options.timeout + std::chrono::seconds(1)) != std::future_status::ready) {
    net::post(impl_->ws.get_executor(), [impl = impl_] { beast::get_lowest_layer(impl->ws).close(); });
    result.wait();
    throw std::runtime_error("WebSocket connect to port " + std::to_string(options.port) + " timed out");
  }
  if (const auto ec = result.get()) {
    throw std::runtime_error("WebSocket connect to port " + std::to_string(options.port) + options.target +
                             " failed: " + ec.message() + " (HTTP " + std::to_string(impl_->response.result_int()) +
                             ")");
  }
  if (options.read) net::post(impl_->ws.get_executor(), [impl = impl_] { impl->do_read(); });
}

WsClient::~WsClient() {
  // Handlers keep the Impl alive; closing the socket ends them.
  net::post(impl_->ws.get_executor(), [impl = impl_] {
    beast::error_code ignored;
    beast::get_lowest_layer(impl->ws).socket().close(ignored);
  });
}

void WsClient::send_text(std::string text) {
  net::post(impl_->ws.get_executor(),
            [impl = impl_, text = std::move(text)]() mutable { impl->queue(std::move(text), false); });
}

void WsClient::send_binary(std::string data) {
  net::post(impl_->ws.get_executor(),
            [impl = impl_, data = std::move(data)]() mutable { impl->queue(std::move(data), true); });
}

void WsClient::send(const chat::ChatStream& frame) { send_text(chat::json::encode(frame)); }

void WsClient::start_reading() {
  net::post(impl_->ws.get_executor(), [impl = impl_] {
    if (!impl->reading) impl->do_read();
  });
}

void WsClient::close() {
  net::post(impl_->ws.get_executor(),
            [impl = impl_] { impl->ws.async_close(websocket::close_code::normal, [impl](beast::error_code) {}); });
}

std::optional<chat::ChatStream> WsClient::wait_for(const EventPredicate& predicate, std::chrono::milliseconds timeout,
                                                   std::size_t from) {
  std::unique_lock lock(impl_->mutex);
  std::optional<chat::ChatStream> found;
  impl_->changed.wait_for(lock, timeout, [&] {
    for (std::size_t i = from; i < impl_->events.size(); ++i) {
      if (predicate(impl_->events[i])) {
        found = impl_->events[i];
        return true;
      }
    }
    return impl_->closed.has_value();
  });
  return found;
}

std::vector<chat::ChatStream> WsClient::wait_for_count(const EventPredicate& predicate, std::size_t count,
                                                       std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  std::vector<chat::ChatStream> found;
  impl_->changed.wait_for(lock, timeout, [&] {
    found.clear();
    for (const auto& event : impl_->events) {
      if (predicate(event)) found.push_back(event);
    }
    return found.size() >= count || impl_->closed.has_value();
  });
  return found;
}

bool WsClient::wait_available(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    for (auto it = impl_->events.rbegin(); it != impl_->events.rend(); ++it) {
      if (it->has_service_status()) return it->service_status().available();
    }
    return false;
  });
}

std::vector<chat::ChatStream> WsClient::events() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->events;
}

std::vector<chat::ChatStream> WsClient::events_matching(const EventPredicate& predicate) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<chat::ChatStream> found;
  for (const auto& event : impl_->events) {
    if (predicate(event)) found.push_back(event);
  }
  return found;
}

std::vector<std::string> WsClient::texts() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->texts;
}

std::size_t WsClient::size() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->events.size();
}

std::optional<WsClosed> WsClient::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->closed.has_value(); });
  return impl_->closed;
}

EventPredicate is_service_status(bool available) {
  return [available](const chat::ChatStream& e) {
    return e.has_service_status() && e.service_status().available() == available;
  };
}

EventPredicate is_error_code(chat::Error::Code code) {
  return [code](const chat::ChatStream& e) { return e.has_error() && e.error().code() == code; };
}

}  // namespace chathost::test
