#include "terminal.hpp"

#include <fcntl.h>
#include <initializer_list>
#include <sys/ioctl.h>
#include <unistd.h>

namespace midimesh::meshtop {
namespace {
volatile std::sig_atomic_t* stop_flag = nullptr;
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 120;
}

bool stdin_is_terminal() {
  return ::isatty(STDIN_FILENO);
}

void move_log_away(const std::string& path) {
  const int fd = ::open(path.empty() ? "/dev/null" : path.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

void catch_stop_requests(volatile std::sig_atomic_t& flag) {
  stop_flag = &flag;
  struct sigaction sa {};
  sa.sa_handler = [](int) { *stop_flag = 1; };
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    sigaction(sig, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

} // namespace midimesh::meshtop
