#pragma once
// Wakes the event loop from another thread (RtMidi's input callback): fd() becomes readable
// after signal() until clear(). One implementation per platform, chosen in meson.build: an
// eventfd on Linux, a self-pipe on other POSIX systems (macOS), a loopback socket pair on
// Windows, where zmq_poll polls sockets only.

namespace midimesh::platform {

class Wakeup {
public:
  Wakeup(); // throws std::system_error
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  int fd() const noexcept { return read_fd_; }
  // Safe from any thread; one non-blocking call. Signalling an fd that is already readable may
  // fail (a full pipe) and loses nothing.
  void signal() noexcept;
  // Makes fd() unreadable until the next signal(); from the loop's thread only.
  void clear() noexcept;

private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

} // namespace midimesh::platform
