#pragma once
// The hub's doorman on a secured mesh (ZeroMQ Authentication Protocol, RFC 27): libzmq asks it
// about every client that completed a CURVE handshake, and it admits only the mesh's member key,
// which only the passphrase yields. Runs in the owner's event loop: poll socket(), then call
// on_readable().

#include "security/mesh_keys.hpp"

#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace midimesh::security {

class ZapHandler {
public:
  // Binds the context's ZAP endpoint; one handler per context.
  ZapHandler(zmq::context_t& context, const MeshKeys& keys);

  zmq::socket_t& socket() noexcept { return socket_; }

  struct Refusal {
    std::string address; // the client's IP address, as libzmq gives it
    std::string why;
  };
  // Answers every pending request; returns the ones refused (for the owner to count and log).
  std::vector<Refusal> on_readable();

  std::uint64_t admitted() const noexcept { return admitted_; }
  std::uint64_t refused() const noexcept { return refused_; }

private:
  zmq::socket_t socket_;
  Key member_key_;
  std::uint64_t admitted_ = 0, refused_ = 0;
};

} // namespace midimesh::security
