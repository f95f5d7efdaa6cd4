#pragma once
// Playing into one node and hearing another through the socket MIDI backend
// (src/midi/socket_ports.hpp), for the join and failover trials. The only place in those trials
// that knows how that backend carries MIDI: when its transport changes, only midi_tap.cpp does.
// No ZeroMQ type in this interface on purpose.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace meshbench {

// The input of the node started with `--port-name port_name`. May be made before the node
// exists: it keeps trying to reach it, and play() refuses until it has.
class MidiInlet {
public:
  explicit MidiInlet(const std::string& port_name);
  ~MidiInlet();
  MidiInlet(MidiInlet&&) noexcept;
  // Hands one message to the node; false when it is not reachable yet (or its queue is full).
  bool play(std::span<const std::uint8_t> message) noexcept;

private:
  struct Socket;
  std::unique_ptr<Socket> socket_;
};

// The output of the node started with `--port-name port_name`: what it plays.
class MidiOutlet {
public:
  explicit MidiOutlet(const std::string& port_name);
  ~MidiOutlet();
  MidiOutlet(MidiOutlet&&) noexcept;
  // Waits up to `wait` for a message; false when none came.
  bool readable(std::chrono::milliseconds wait);
  // Takes one waiting message without blocking; false when none waits.
  bool take(std::vector<std::uint8_t>& message);

private:
  struct Socket;
  std::unique_ptr<Socket> socket_;
};

} // namespace meshbench
