#include "node/signals.hpp"

#include <csignal>
#include <fcntl.h>
#include <stdexcept>
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
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0)
    throw std::runtime_error("cannot create the signal pipe");
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
    sigaction(s, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

SignalPipe::~SignalPipe() {
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
    std::signal(s, SIG_DFL);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

int SignalPipe::fd() const noexcept {
  return pipe_fds[0];
}

int SignalPipe::take() noexcept {
  unsigned char byte = 0;
  return ::read(pipe_fds[0], &byte, 1) == 1 ? byte : 0;
}

} // namespace midimesh::node
