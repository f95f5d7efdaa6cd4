#pragma once
// How every midimesh socket is secured, or not: one value handed to everything that opens a
// socket (hub, mesh link, beacons, claim checks, meshtop), so no socket is forgotten.
// Open mesh (the default): ZeroMQ's NULL mechanism, sockets unchanged. Secured mesh: CURVE,
// the hub's sockets as servers and everyone else's as clients, all with the mesh's keys.

#include "security/mesh_keys.hpp"

#include <memory>
#include <optional>
#include <zmq.hpp>

namespace midimesh::security {

// The ZAP domain of every server socket. Also set on an open mesh: libzmq then refuses pre-3.0
// ZMTP peers instead of taking garbage for a ZeroMQ 1.0 peer.
inline constexpr const char* zap_domain = "midimesh";

class SocketSecurity {
public:
  SocketSecurity() = default; // an open mesh
  explicit SocketSecurity(MeshKeys keys);
  static SocketSecurity from(std::optional<MeshKeys> keys) {
    return keys ? SocketSecurity(std::move(*keys)) : SocketSecurity();
  }

  bool secured() const noexcept { return static_cast<bool>(keys_); }
  // nullptr on an open mesh.
  const MeshKeys* keys() const noexcept { return keys_.get(); }

  // Before bind(): a socket others connect to. On a secured mesh a ZapHandler must be running in
  // the same context before the socket binds: without one, libzmq admits any client that knows
  // the server's public key.
  void server(zmq::socket_t& socket) const;
  // Before connect(): a socket that connects to a hub's (or a standby proxy's) port.
  void client(zmq::socket_t& socket) const;

private:
  std::shared_ptr<const MeshKeys> keys_; // shared: copied into every part that opens sockets
};

} // namespace midimesh::security
