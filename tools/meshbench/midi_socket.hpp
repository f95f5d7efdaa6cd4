#pragma once
// meshbench's end of a node's socket MIDI backend (src/midi/socket_ports.hpp). The node listens
// on PATH-in, a SOCK_SEQPACKET Unix socket taking one MIDI message per packet, and we connect to
// play into it; we listen on PATH-out, a stream socket, and the node connects when it first plays
// and writes each message as a 4-byte little-endian length and the bytes.

#include <cstdint>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace meshbench {

class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept;
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  int get() const noexcept { return fd_; }
  void reset(int fd = -1) noexcept;

private:
  int fd_ = -1;
};

// Plays into the node listening on `path` (its PATH-in).
class MidiInlet {
public:
  explicit MidiInlet(std::string path) : path_(std::move(path)) {}
  // False when not sent: the node does not listen yet, or its queue is full. Never blocks.
  bool send(std::span<const std::uint8_t> message) noexcept;

private:
  std::string path_;
  UniqueFd fd_;
};

// Listens on `path` (a node's PATH-out) for the node to connect and play. Throws BenchError.
class MidiOutlet {
public:
  explicit MidiOutlet(std::string path);
  ~MidiOutlet();
  MidiOutlet(MidiOutlet&&) noexcept = default;
  MidiOutlet& operator=(MidiOutlet&&) noexcept = default;

  // Poll these: the listening socket, then the node's connection (-1 before it connects).
  int listen_fd() const noexcept { return listener_.get(); }
  int connection_fd() const noexcept { return connection_.get(); }
  // Takes the node's pending connection (a node that reconnects replaces the old one).
  void accept() noexcept;
  // Reads what waits (one system call) and appends the complete messages to `out`; they stay
  // valid until the next call. Returns how many, 0 when none waits, -1 when the node closed.
  int receive(std::vector<std::span<const std::uint8_t>>& out);

private:
  std::string path_;
  UniqueFd listener_, connection_;
  std::vector<std::uint8_t> buffer_;
  std::size_t filled_ = 0, parsed_ = 0; // bytes read; bytes of whole messages handed out
};

} // namespace meshbench
