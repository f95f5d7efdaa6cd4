#include "security/socket_security.hpp"

#include <string_view>

namespace midimesh::security {
namespace {

std::string_view bytes(const Key& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

} // namespace

SocketSecurity::SocketSecurity(MeshKeys keys)
    : keys_(std::make_shared<const MeshKeys>(std::move(keys))) {}

void SocketSecurity::server(zmq::socket_t& socket) const {
  socket.set(zmq::sockopt::zap_domain, zap_domain);
  if (!keys_) return;
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, bytes(keys_->server_secret));
}

void SocketSecurity::client(zmq::socket_t& socket) const {
  if (!keys_) return;
  socket.set(zmq::sockopt::curve_serverkey, bytes(keys_->server_public));
  socket.set(zmq::sockopt::curve_publickey, bytes(keys_->client_public));
  socket.set(zmq::sockopt::curve_secretkey, bytes(keys_->client_secret));
}

} // namespace midimesh::security
