#include "node/handshake_watch.hpp"

#include <cstring>

namespace midimesh::node {

void HandshakeWatch::watch(zmq::socket_t& socket) {
  if (monitor_) monitor_.close();
  const std::string endpoint = "inproc://midimesh-handshake-" + std::to_string(watched_++);
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
    return; // no news of handshakes; the link works the same
  monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
  monitor_.connect(endpoint);
}

std::vector<HandshakeWatch::Outcome> HandshakeWatch::read() {
  std::vector<Outcome> outcomes;
  if (!monitor_) return outcomes;
  zmq::message_t event, address;
  while (monitor_.recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof id);
    switch (id) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      outcomes.push_back(Outcome::succeeded);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      outcomes.push_back(Outcome::refused_key);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      outcomes.push_back(Outcome::other_mechanism);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      outcomes.push_back(Outcome::refused_by_hub);
      break;
    default:
      break;
    }
  }
  return outcomes;
}

} // namespace midimesh::node
