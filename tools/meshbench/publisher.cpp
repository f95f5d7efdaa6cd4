#include "publisher.hpp"

#include "wire/transport.hpp"

namespace meshbench {
namespace {
constexpr int node_queue_depth = 100'000; // as a midimesh node (src/node/mesh_link.cpp)
} // namespace

Publisher::Publisher(zmq::context_t& context, std::string id)
    : socket_(context, zmq::socket_type::pub) {
  midimesh::wire::apply_common_options(socket_);
  socket_.set(zmq::sockopt::sndhwm, node_queue_depth);
  envelope_.type = static_cast<std::uint8_t>(midimesh::wire::MessageType::midi);
  envelope_.sender = std::move(id);
}

void Publisher::connect(const std::string& endpoint) {
  socket_.connect(endpoint);
}

std::string Publisher::bind_loopback() {
  // A PUB filters for its subscribers; it must invert as their SUBs do (and as the hub's XPUB
  // does), or a SUB subscribed to "not my id" hears nothing.
  socket_.set(zmq::sockopt::invert_matching, 1);
  socket_.bind("tcp://127.0.0.1:*");
  return socket_.get(zmq::sockopt::last_endpoint);
}

bool Publisher::publish(std::span<const std::uint8_t> midi, std::uint64_t time_us) {
  envelope_.time_us = time_us;
  envelope_.payload.assign(midi.begin(), midi.end());
  const std::vector<std::uint8_t> frame = midimesh::wire::encode(envelope_);
  ++envelope_.seq; // numbered whether or not ZeroMQ takes it: a refusal is a loss, as in a node
  try {
    if (!socket_.send(zmq::buffer(envelope_.sender),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    return socket_.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

} // namespace meshbench
