// Linux: one eventfd is both ends; a counter that never fills up.
#include "platform/wakeup.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace midimesh::platform {

Wakeup::Wakeup() {
  read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (read_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd failed");
}

Wakeup::~Wakeup() {
  ::close(read_fd_);
}

void Wakeup::signal() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(write_fd_, &one, sizeof one);
}

void Wakeup::clear() noexcept {
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(read_fd_, &count, sizeof count); // resets the counter
}

} // namespace midimesh::platform
