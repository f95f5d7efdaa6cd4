#pragma once
// meshbench's end of a node's socket MIDI backend (src/midi/socket_ports.hpp), for the fleet and
// the join and failover trials: the only place that knows how that backend carries MIDI. For the
// node started with `--port-name P`: the node listens on P-in, a SOCK_SEQPACKET Unix socket
// taking one MIDI message per packet, and we connect to play into it; we listen on P-out, a
// stream socket, and the node connects when it first plays and writes each message as a 4-byte
// little-endian length and the bytes.

#include <chrono>
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

// The input of the node started with `--port-name port_name`. May be made before the node
// exists: play() refuses until the node listens.
class MidiInlet {
public:
  explicit MidiInlet(const std::string& port_name) : path_(port_name + "-in") {}
  // False when not sent: the node does not listen yet, or its queue is full. Never blocks.
  bool play(std::span<const std::uint8_t> message) noexcept;

private:
  std::string path_;
  UniqueFd fd_;
};

// The output of the node started with `--port-name port_name`: listens for the node to connect
// and play. Make it before the node first plays, or what it plays until then is refused (and
// counted by the node). Throws BenchError.
class MidiOutlet {
public:
  explicit MidiOutlet(const std::string& port_name);
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

  // One message at a time, for a reader that waits: up to `wait` for something to read (true),
  // then take() copies out each waiting message (false once none is left).
  bool readable(std::chrono::milliseconds wait);
  bool take(std::vector<std::uint8_t>& message);

private:
  std::string path_;
  UniqueFd listener_, connection_;
  std::vector<std::uint8_t> buffer_;
  std::size_t filled_ = 0, parsed_ = 0; // bytes read; bytes of whole messages handed out
  std::vector<std::span<const std::uint8_t>> taking_; // read, not yet taken, from taken_
  std::size_t taken_ = 0;
};

} // namespace meshbench
