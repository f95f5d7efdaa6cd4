// POSIX without eventfd (macOS): a self-pipe.
#include "platform/pipe.hpp"
#include "platform/wakeup.hpp"

#include <unistd.h>

namespace midimesh::platform {

Wakeup::Wakeup() {
  int fds[2];
  make_pipe(fds);
  read_fd_ = fds[0];
  write_fd_ = fds[1];
}

Wakeup::~Wakeup() {
  ::close(read_fd_);
  ::close(write_fd_);
}

void Wakeup::signal() noexcept {
  const char byte = 1;
  [[maybe_unused]] auto written = ::write(write_fd_, &byte, 1);
}

void Wakeup::clear() noexcept {
  char drained[64];
  while (::read(read_fd_, drained, sizeof drained) > 0) {
  }
}

} // namespace midimesh::platform
