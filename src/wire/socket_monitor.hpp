#pragma once
// A ZeroMQ socket's connection events (zmq_socket_monitor), read from an inproc PAIR.
//
// libzmq's I/O thread sends each event with a blocking send. Once the reading PAIR is closed, the
// next event (a connection still completing, say) blocks that thread for good, and with it every
// TCP connection of the context (libzmq issue 3575). So stop() ends the monitoring before it
// closes the PAIR, and the monitored socket must outlive its monitor: declare the monitor after
// the socket, and stop it before closing the socket.

#include <string>
#include <zmq.hpp>

namespace midimesh::wire {

class SocketMonitor {
public:
  SocketMonitor() = default;
  // Empty (false) when libzmq cannot monitor `socket`.
  SocketMonitor(zmq::context_t& context, zmq::socket_t& socket, const std::string& endpoint,
                int events);
  SocketMonitor(SocketMonitor&& other) noexcept;
  SocketMonitor& operator=(SocketMonitor&& other) noexcept;
  ~SocketMonitor() { stop(); }

  void stop() noexcept;
  explicit operator bool() const noexcept { return static_cast<bool>(events_); }
  // Where the events arrive: poll it and read it often, or libzmq's I/O thread waits for it.
  zmq::socket_t& events() noexcept { return events_; }

private:
  void* monitored_ = nullptr;
  zmq::socket_t events_;
};

} // namespace midimesh::wire
