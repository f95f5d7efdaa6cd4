#include "publisher.hpp"

namespace meshbench {

Publisher::Publisher(zmq::context_t& context, std::string id) : link_(context, std::move(id)) {}

void Publisher::connect(const std::string& endpoint) {
  link_.connect(endpoint, {}); // receiving is the Receiver's, on a thread of its own
}

std::string Publisher::bind_loopback() {
  return link_.listen("tcp://127.0.0.1:*");
}

bool Publisher::publish(std::span<const std::uint8_t> midi, std::uint64_t time_us) {
  // A node learns that the hub subscribed when its poll finds the XPUB readable; the sending
  // loops here do not poll, so they ask until it has (once ready, never again: no cost per
  // message).
  if (!link_.ready()) link_.on_publisher_readable();
  return link_.publish(midimesh::wire::MessageType::midi, midi, time_us) !=
         midimesh::node::MeshLink::Published::dropped;
}

} // namespace meshbench
