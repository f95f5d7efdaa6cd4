// Windows: zmq_poll polls sockets only, so the wake-up is a datagram on a loopback socket pair.
#include "platform/sockets.hpp"
#include "platform/wakeup.hpp"

namespace midimesh::platform {

Wakeup::Wakeup() {
  int fds[2];
  make_socket_pair(fds);
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

Wakeup::~Wakeup() {
  close_socket(read_fd_);
  close_socket(write_fd_);
}

void Wakeup::signal() noexcept {
  const char byte = 1;
  (void)::send(static_cast<SOCKET>(write_fd_), &byte, 1, 0);
}

void Wakeup::clear() noexcept {
  char drained[64];
  while (::recv(static_cast<SOCKET>(read_fd_), drained, sizeof drained, 0) > 0) {
  }
}

} // namespace midimesh::platform
