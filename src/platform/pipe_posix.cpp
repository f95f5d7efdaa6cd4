// macOS has no pipe2: the flags are set one by one. Nothing forks between the calls.
#include "platform/pipe.hpp"

#include <cerrno>
#include <fcntl.h>
#include <system_error>
#include <unistd.h>

namespace midimesh::platform {

void make_pipe(int fds[2]) {
  if (::pipe(fds) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot create a pipe");
  for (int i = 0; i < 2; ++i) {
    ::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    ::fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  }
}

} // namespace midimesh::platform
