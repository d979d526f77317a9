#include "room_echo_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <deque>
#include <map>
#include <set>
#include <thread>

namespace chathost::bench::test {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

namespace {

class Session;
using Rooms = std::map<std::string, std::set<std::shared_ptr<Session>>>;

// Single-threaded: the server's one io_context thread runs every handler.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Rooms& rooms) : ws_(std::move(socket)), rooms_(rooms) {}

  void start() {
    ws_.async_accept([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->read();
    });
  }

  void send(std::shared_ptr<const std::string> frame) {
    queue_.push_back(std::move(frame));
    if (queue_.size() == 1) write();
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
      if (ec) {
        self->leave();
        return;
      }
      self->on_frame(boost::beast::buffers_to_string(self->buffer_.data()));
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  void on_frame(const std::string& text) {
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    const auto* object = value.if_object();
    const auto* message = object ? object->if_contains("chat_message") : nullptr;
    if (!message || !message->is_object() || !message->as_object().contains("room_id")) {
      send(std::make_shared<const std::string>(R"({"error":"not a chat_message"})"));
      return;
    }
    std::string room(message->as_object().at("room_id").as_string());
    auto& members = rooms_[room];
    if (members.insert(shared_from_this()).second) {
      joined_.insert(room);
      auto presence = std::make_shared<const std::string>(R"({"presence":{"room_id":")" + room + R"(","online":true}})");
      for (const auto& member : members) member->send(presence);
    }
    auto frame = std::make_shared<const std::string>(text);
    for (const auto& member : members) member->send(frame);
    send(std::make_shared<const std::string>(R"({"ack":{"sequence":"1"}})"));
  }

  void write() {
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      if (ec) return self->leave();
                      self->queue_.pop_front();
                      if (!self->queue_.empty()) self->write();
                    });
  }

  void leave() {
    for (const auto& room : joined_) rooms_[room].erase(shared_from_this());
    joined_.clear();
  }

  websocket::stream<tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::set<std::string> joined_;
  Rooms& rooms_;
};

}  // namespace

struct RoomEchoServer::State {
  net::io_context context{1};
  tcp::acceptor acceptor{context, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  Rooms rooms;
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(std::move(socket), rooms)->start();
      accept();
    });
  }
};

RoomEchoServer::RoomEchoServer() : state_(std::make_unique<State>()) {
  state_->accept();
  state_->thread = std::thread([state = state_.get()] { state->context.run(); });
}

RoomEchoServer::~RoomEchoServer() {
  state_->context.stop();
  state_->thread.join();
  // Sessions in rooms hold each other through the map: clear it on a stopped context.
  state_->rooms.clear();
}

std::uint16_t RoomEchoServer::port() const { return state_->acceptor.local_endpoint().port(); }

}  // namespace chathost::bench::test
