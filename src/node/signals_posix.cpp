#include "node/signals.hpp"
#include "platform/pipe.hpp"

#include <csignal>
#include <initializer_list>
#include <unistd.h>

namespace midimesh::node {
namespace {
int pipe_fds[2] = {-1, -1};

extern "C" void on_signal(int signal) {
  const unsigned char byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] auto n = ::write(pipe_fds[1], &byte, 1); // async-signal-safe
}
} // namespace

SignalPipe::SignalPipe() {
  platform::make_pipe(pipe_fds);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
    sigaction(s, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

SignalPipe::~SignalPipe() {
  // Ignored, not the default: the node has left and the process is ending; a late second
  // Ctrl-C must not turn a clean exit into death by signal. Ctrl-\ (SIGQUIT) still kills.
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
    std::signal(s, SIG_IGN);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

int SignalPipe::fd() const noexcept {
  return pipe_fds[0];
}

SignalPipe::Request SignalPipe::take() noexcept {
  unsigned char byte = 0;
  if (::read(pipe_fds[0], &byte, 1) != 1) return Request::none;
  return byte == SIGUSR1 ? Request::log_stats : Request::stop;
}

} // namespace midimesh::node
