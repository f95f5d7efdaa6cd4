#pragma once
// Turns SIGINT, SIGTERM, SIGHUP (a closed terminal, a dropped ssh: leave as for SIGTERM) and
// SIGUSR1 into bytes on a pipe, so the event loop sees them as one more readable fd instead of
// being interrupted at an arbitrary point.

namespace midimesh::node {

class SignalPipe {
public:
  SignalPipe(); // installs the handlers; one instance per process
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int fd() const noexcept;
  // The next signal caught, or 0 when none is waiting.
  int take() noexcept;
};

} // namespace midimesh::node
