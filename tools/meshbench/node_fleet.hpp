#pragma once
// Real `midimesh` node processes joined to a hub, played into and listened to through the socket
// MIDI backend (src/midi/socket_ports.hpp, midi_socket.hpp): for each node a Unix socket into
// DIR/nodeN-in and one it plays into at DIR/nodeN-out. One listening thread takes every node's
// output; the calling thread plays. What is played is a SysEx carrying the sending node's index, a
// sequence number and the steady-clock time it was handed to the node, so latency runs from that
// node taking the message in to another node playing it out (a socket hop included at each end: no
// more than a send() and a recv(), as for a MIDI driver's queue).

#include "hub_process.hpp"
#include "midi_socket.hpp"
#include "stamp.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace meshbench {

struct FleetConfig {
  std::string midimesh;
  std::uint16_t hub_port = 0;
  std::size_t nodes = 8;
  std::string dir;      // where the nodes' MIDI sockets go; must exist
  std::string log_path; // every node's output, appended
  // Appended to node i's command line, for i < extra_args.size() (e.g. an RTP-MIDI port).
  std::vector<std::vector<std::string>> extra_args;
  // Stamps from no node of the fleet (an RTP-MIDI peer's, say) that node `receiver` played out,
  // with when: called on the listening thread.
  std::function<void(std::size_t receiver, const Stamp& stamp, std::uint64_t at_us)> on_foreign;
};

class NodeFleet {
public:
  // Starts the nodes; throws HubProcessError when one cannot be started.
  explicit NodeFleet(const FleetConfig& config);
  ~NodeFleet(); // stops the listener and ends every node by PID

  std::size_t size() const noexcept { return nodes_.size(); }
  pid_t pid(std::size_t node) const noexcept { return nodes_[node]->pid(); }
  bool all_running() noexcept;

  // Plays probes into every node until every node has played every other's (the nodes joined
  // and subscribed). Throws BenchError after `limit` or when a node exits.
  void probe(std::chrono::milliseconds limit);

  // Starts counting measured messages afresh; keeps up to `latency_capacity` latencies.
  void start_measuring(std::size_t latency_capacity);
  // Hands one measured message to `node`; false when its input queue is full (not sent).
  bool play(std::size_t node);
  std::uint64_t played(std::size_t node) const noexcept { return played_[node]; }
  // Hands a message of the caller's own to `node`, not counted in played(); false when refused.
  bool play_message(std::size_t node, std::span<const std::uint8_t> message) noexcept {
    return inputs_[node].play(message);
  }
  // Messages from `sender` that `receiver` has played out so far (any thread).
  std::uint64_t heard(std::size_t receiver, std::size_t sender) const noexcept;
  std::uint64_t heard_total() const noexcept;
  // The fewest messages from `sender` any other node has played out.
  std::uint64_t slowest_from(std::size_t sender) const noexcept;
  // Stops counting and waits until the listener has seen that: the latencies may then be read.
  void stop_measuring();
  const std::vector<std::int64_t>& latencies_us() const noexcept { return latencies_us_; }
  std::uint64_t last_arrival_us() const noexcept { return last_arrival_us_.load(); }
  void stop_listening() noexcept;
  bool listener_failed() const noexcept { return failed_.load(); }

private:
  bool send(std::size_t node, std::uint8_t kind);
  void listen();
  void on_output(std::size_t receiver, std::span<const std::uint8_t> message);
  std::atomic<std::uint64_t>& cell(std::size_t receiver, std::size_t sender) const noexcept {
    return heard_[receiver * nodes_.size() + sender];
  }

  std::vector<std::unique_ptr<ChildProcess>> nodes_;
  std::vector<MidiInlet> inputs_;   // into each node, played by the calling thread only
  std::vector<MidiOutlet> outputs_; // from each node, read by the listening thread only
  std::vector<std::uint64_t> played_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> heard_; // measured, receiver x sender
  std::unique_ptr<std::atomic<bool>[]> probed_;         // probe heard, receiver x sender
  std::vector<std::int64_t> latencies_us_;
  std::size_t latency_capacity_ = 0;
  std::atomic<bool> measuring_{false};
  std::atomic<std::uint64_t> last_arrival_us_{0};
  std::atomic<std::uint64_t> listener_turns_{0}; // a hand-shake for stop_measuring()
  std::uint64_t foreign_ = 0;
  std::function<void(std::size_t, const Stamp&, std::uint64_t)> on_foreign_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread listener_;
};

} // namespace meshbench
