#include "wire/socket_monitor.hpp"

#include <utility>

namespace midimesh::wire {

SocketMonitor::SocketMonitor(zmq::context_t& context, zmq::socket_t& socket,
                             const std::string& endpoint, int events) {
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), events) != 0) return;
  monitored_ = socket.handle();
  events_ = zmq::socket_t(context, zmq::socket_type::pair);
  events_.connect(endpoint);
}

SocketMonitor::SocketMonitor(SocketMonitor&& other) noexcept
    : monitored_(std::exchange(other.monitored_, nullptr)), events_(std::move(other.events_)) {}

SocketMonitor& SocketMonitor::operator=(SocketMonitor&& other) noexcept {
  if (this != &other) {
    stop();
    monitored_ = std::exchange(other.monitored_, nullptr);
    events_ = std::move(other.events_);
  }
  return *this;
}

void SocketMonitor::stop() noexcept {
  // A null endpoint stops the monitoring (undocumented; see libzmq issue 3575).
  if (monitored_) zmq_socket_monitor(std::exchange(monitored_, nullptr), nullptr, 0);
  if (events_) events_.close();
}

} // namespace midimesh::wire
