#pragma once
// One benchmark client's sending side: a node's own MeshLink (node/mesh_link), so what is
// measured is how a node publishes: XPUB, send HWM 100,000, numbering and encoding as
// PROTOCOL.md says, holding until the hub has subscribed, keeping the last second for a replay.
// The same code publishes into the hub and, for the baseline, straight to subscribers
// (MeshLink::listen): the comparison then measures only the hub.

#include "node/mesh_link.hpp"

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

  // Publishes one `midi` message with the next sequence number; false if it was dropped (held
  // messages beyond MeshLink's bound, or ZeroMQ refused it). An XPUB drops silently at its HWM,
  // so true means "queued or held", not "delivered".
  bool publish(std::span<const std::uint8_t> midi, std::uint64_t time_us);

  const std::string& id() const noexcept { return link_.id(); }
  std::uint64_t published() const noexcept { return link_.published(); }

private:
  midimesh::node::MeshLink link_;
};

} // namespace meshbench
