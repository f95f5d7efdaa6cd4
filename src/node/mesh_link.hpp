#pragma once
// A node's two sockets to the hub: a PUB that publishes into the hub's XSUB and a SUB that
// receives from its XPUB. Knows the node's id and numbers every message it publishes.
// Reconnecting to another hub (a role change) replaces both sockets; the sequence goes on.

#include "wire/envelope.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <zmq.hpp>

namespace midimesh::node {

class MeshLink {
public:
  MeshLink(zmq::context_t& context, std::string node_id);

  void connect(const std::string& publish_endpoint, const std::string& subscribe_endpoint);
  // Closes both sockets, giving what is queued up to linger_ms to leave.
  void disconnect(int linger_ms);
  bool connected() const noexcept { return static_cast<bool>(subscriber_); }

  // Publishes one message with the next sequence number; false if ZeroMQ refused it.
  bool publish(wire::MessageType type, std::span<const std::uint8_t> payload,
               std::uint64_t time_us);

  zmq::socket_t& subscriber() noexcept { return subscriber_; }
  const std::string& id() const noexcept { return id_; }
  std::uint64_t published() const noexcept { return next_seq_; }

private:
  zmq::context_t& context_;
  std::string id_;
  std::uint64_t next_seq_ = 0;
  zmq::socket_t publisher_;
  zmq::socket_t subscriber_;
};

} // namespace midimesh::node
