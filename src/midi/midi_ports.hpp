#pragma once
// A node's MIDI input and output, whatever the backend. The node's event loop polls
// input_fd() and then drains take_input(); the backend's own threads only ever hand messages
// over through a bounded lock-free queue and never touch the rest of the node.

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace midimesh::midi {

// Thrown at startup when no MIDI backend can be opened; the message says what is missing.
struct MidiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MidiConfig {
  // "", "alsa", "jack", "core", "winmm", or "socket" (tests and benchmarks only, never tried by
  // default: socket_ports.hpp): "" tries the platform's order
  std::string api;
  std::string input_name;  // "" = create a virtual input; else open an existing port by (sub)name
  std::string output_name; // "" = create a virtual output; else open an existing port by (sub)name
  std::string port_name = "midimesh"; // name of the virtual ports (and backend client)
  // Receives the backend's warnings and errors after startup. Called only from the thread that
  // calls send() and take_input(), never from a backend thread. Empty: they go to stderr.
  std::function<void(const std::string&)> log;
};

enum class SendResult {
  sent,
  too_large, // bigger than the backend carries in one event: not sent
  failed,    // the backend refused it: not sent
};

struct InputStats {
  std::uint64_t received = 0;        // complete messages taken from the backend
  std::uint64_t queue_overflows = 0; // dropped because the event loop fell behind
  std::uint64_t backend_errors = 0;  // errors the backend reported on its input
};

class MidiPorts {
public:
  virtual ~MidiPorts() = default;
  // Readable (poll POLLIN) whenever messages are waiting in take_input().
  virtual int input_fd() const = 0;
  // Moves every waiting input message into `out` (appending) and clears the fd's readiness.
  virtual void take_input(std::vector<std::vector<std::uint8_t>>& out) = 0;
  virtual SendResult send(std::span<const std::uint8_t> message) = 0;
  // Hands over what send() accepted but held back to pass on in one go; returns how many of
  // those the backend could not deliver after all. The node calls it after every turn of its
  // loop. Backends that hand each message over in send() hold nothing back.
  virtual std::size_t flush() { return 0; }
  // Largest message send() accepts.
  virtual std::size_t max_message_size() const = 0;
  virtual InputStats input_stats() const = 0;
  // One line for the log: backend and port names, e.g. "JACK: virtual ports midimesh-in/out".
  virtual std::string describe() const = 0;
};

// Opens the ports. Throws MidiError, naming every backend tried and why it failed.
std::unique_ptr<MidiPorts> open_midi_ports(const MidiConfig& config);

// Prints the input and output ports of each available backend (or of `api` alone); when no
// backend works, says so and why. Returns false when no backend could be opened.
bool list_midi_ports(const std::string& api, std::ostream& out);

} // namespace midimesh::midi
