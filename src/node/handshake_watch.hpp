#pragma once
// How the handshakes of the link's connection to its hub end, as libzmq's socket monitor tells
// it. On a secured mesh it is the only way to learn that a passphrase does not match: the hub
// just closes the connection, and libzmq retries in silence.

#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace midimesh::node {

class HandshakeWatch {
public:
  explicit HandshakeWatch(zmq::context_t& context) : context_(context) {}

  // Watches `socket` (before it connects) instead of the one watched so far.
  void watch(zmq::socket_t& socket);
  // What to poll; nullptr when nothing is watched.
  void* handle() noexcept { return monitor_ ? monitor_.handle() : nullptr; }

  enum class Outcome {
    succeeded,
    refused_key,     // CURVE, and the hub could not open our hello: another passphrase
    other_mechanism, // one side secured, the other open (or not midimesh at all)
    refused_by_hub,  // the hub's ZAP handler said no
  };
  // Reads what the monitor has; call when handle() is readable.
  std::vector<Outcome> read();

private:
  zmq::context_t& context_;
  zmq::socket_t monitor_;
  std::uint64_t watched_ = 0; // numbers the monitor endpoints: each must be new
};

} // namespace midimesh::node
