#include "platform/sockets.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace midimesh::platform {

// Not SOCK_CLOEXEC: macOS lacks it, and midimesh never forks while it opens sockets.
int open_socket(int family, int type) noexcept {
  const int fd = ::socket(family, type, 0);
  if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

bool set_nonblocking(int fd) noexcept {
  return ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0;
}

void close_socket(int fd) noexcept {
  if (fd >= 0) ::close(fd);
}

std::string socket_error() {
  return std::strerror(errno);
}

bool readable_now(int fd) noexcept {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 0) > 0 && (entry.revents & (POLLIN | POLLHUP | POLLERR));
}

std::string host_name() {
  char buffer[256] = {};
  return ::gethostname(buffer, sizeof buffer - 1) == 0 ? buffer : "";
}

} // namespace midimesh::platform
