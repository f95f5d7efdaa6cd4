#include "midi_tap.hpp"

#include <zmq.hpp>

namespace meshbench {
namespace {

// The socket backend today: a PULL bound at ipc://PATH-in, a PUSH bound at ipc://PATH-out.
constexpr int queue_depth = 100'000;
// ZeroMQ retries a connection to a path that does not exist yet every 100 ms by default: a
// join would be measured 100 ms late. 1 ms keeps the tap's own share of a join negligible.
constexpr int retry_ms = 1;

zmq::context_t& context() {
  static zmq::context_t shared(1); // every socket is closed (linger 0) before exit
  return shared;
}

zmq::socket_t open(zmq::socket_type type, const std::string& endpoint) {
  zmq::socket_t socket(context(), type);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, retry_ms);
  socket.set(zmq::sockopt::sndhwm, queue_depth);
  socket.set(zmq::sockopt::rcvhwm, queue_depth);
  // Refuse to queue while the node is not there: what play() accepts has reached it.
  if (type == zmq::socket_type::push) socket.set(zmq::sockopt::immediate, 1);
  socket.connect(endpoint);
  return socket;
}

} // namespace

struct MidiInlet::Socket {
  zmq::socket_t push;
};

struct MidiOutlet::Socket {
  zmq::socket_t pull;
  zmq::message_t message;
};

MidiInlet::MidiInlet(const std::string& port_name)
    : socket_(std::make_unique<Socket>(
          Socket{open(zmq::socket_type::push, "ipc://" + port_name + "-in")})) {}
MidiInlet::~MidiInlet() = default;
MidiInlet::MidiInlet(MidiInlet&&) noexcept = default;

bool MidiInlet::play(std::span<const std::uint8_t> message) noexcept {
  try {
    return socket_->push
        .send(zmq::buffer(message.data(), message.size()), zmq::send_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

MidiOutlet::MidiOutlet(const std::string& port_name)
    : socket_(std::make_unique<Socket>(
          Socket{open(zmq::socket_type::pull, "ipc://" + port_name + "-out"), {}})) {}
MidiOutlet::~MidiOutlet() = default;
MidiOutlet::MidiOutlet(MidiOutlet&&) noexcept = default;

bool MidiOutlet::readable(std::chrono::milliseconds wait) {
  zmq::pollitem_t item{socket_->pull.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, wait) > 0;
}

bool MidiOutlet::take(std::vector<std::uint8_t>& message) {
  if (!socket_->pull.recv(socket_->message, zmq::recv_flags::dontwait)) return false;
  const auto* bytes = socket_->message.data<std::uint8_t>();
  message.assign(bytes, bytes + socket_->message.size());
  return true;
}

} // namespace meshbench
