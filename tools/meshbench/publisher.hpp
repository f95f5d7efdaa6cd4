#pragma once
// One benchmark client's sending side: a PUB socket set up as a midimesh node sets up its own
// (common options, send HWM 100,000) that numbers and encodes every message as PROTOCOL.md says.
// Its own class rather than node::MeshLink so that the same code publishes into the hub and,
// for the baseline, straight to subscribers: the comparison then measures only the hub.

#include "wire/envelope.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <zmq.hpp>

namespace meshbench {

class Publisher {
public:
  Publisher(zmq::context_t& context, std::string id);

  // Through a hub: connect to its inbound (XSUB) port.
  void connect(const std::string& endpoint);
  // Baseline without a hub: listen on an ephemeral loopback port; returns where to connect.
  std::string bind_loopback();

  // Publishes one `midi` message with the next sequence number; false if ZeroMQ refused it.
  // A PUB drops silently at its HWM, so true means "queued", not "delivered".
  bool publish(std::span<const std::uint8_t> midi, std::uint64_t time_us);

  const std::string& id() const noexcept { return envelope_.sender; }
  std::uint64_t published() const noexcept { return envelope_.seq; }

private:
  zmq::socket_t socket_;
  midimesh::wire::Envelope envelope_; // reused: only seq, time and payload change per message
};

} // namespace meshbench
