#pragma once
// Turns the requests a user or the system makes from outside into bytes on fd(), so the event
// loop sees them as one more readable fd instead of being interrupted at an arbitrary point.
// POSIX (signals_posix.cpp): SIGINT, SIGTERM, SIGHUP (a closed terminal, a dropped ssh: leave as
// for SIGTERM) ask to stop, SIGUSR1 to log the counters. Windows (signals_windows.cpp): Ctrl-C,
// Ctrl-Break, a closed console window, logoff and shutdown ask to stop.

namespace midimesh::node {

class SignalPipe {
public:
  enum class Request { none, stop, log_stats };

  SignalPipe(); // installs the handlers; one instance per process
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int fd() const noexcept;
  // The next request waiting, or none.
  Request take() noexcept;
};

} // namespace midimesh::node
