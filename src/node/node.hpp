#pragma once
// One midimesh process: a member of the mesh, and the hub too when its role says so. A single
// event loop polls the mesh sockets, the hub's sockets, MIDI input and signals.

#include "hub/hub.hpp"
#include "log/throttle.hpp"
#include "midi/midi_ports.hpp"
#include "midi/note_tracker.hpp"
#include "node/mesh_link.hpp"
#include "node/peer_table.hpp"
#include "node/signals.hpp"
#include "wire/transport.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

namespace midimesh::node {

struct NodeConfig {
  bool host_hub = true;       // be the hub (and its first member)
  wire::HostPort hub_address; // the hub to join when not hosting it
  std::string bind_address = "*";
  std::uint16_t port = wire::default_port;
  std::string name;
  bool midi = true;
  midi::MidiConfig midi_config;
  std::uint64_t heartbeat_us = 250'000;
  std::uint64_t peer_timeout_us = 1'500'000;
};

struct NodeCounters {
  std::uint64_t midi_sent = 0, midi_sent_bytes = 0;         // local input -> mesh
  std::uint64_t midi_received = 0, midi_received_bytes = 0; // mesh -> local output
  std::uint64_t lost = 0;                                   // sequence gaps, all peers
  std::uint64_t malformed = 0, version_mismatch = 0, unknown_type = 0;
  std::uint64_t oversize_input = 0;   // local MIDI too big for the wire
  std::uint64_t backend_rejected = 0; // mesh MIDI the MIDI backend could not take
  std::uint64_t publish_failed = 0;
  std::uint64_t released_notes = 0; // note-offs sent for vanished senders
};

class Node {
public:
  // Throws hub::HubError when the hub cannot bind. A missing MIDI backend is not fatal: the
  // node says so and runs headless.
  explicit Node(NodeConfig config);
  ~Node();

  // Runs until SIGINT or SIGTERM, then leaves the mesh cleanly. Returns the exit code.
  int run();

  const NodeCounters& counters() const noexcept { return counters_; }

private:
  void on_mesh_readable(std::uint64_t now_us);
  void on_envelope(const wire::Envelope& envelope, std::uint64_t now_us);
  void on_hello(const wire::Envelope& envelope, Peer& peer);
  void on_goodbye(const wire::Envelope& envelope);
  void on_midi_input();
  void on_publisher_readable();
  void check_joined();
  void deliver(const std::string& sender, std::span<const std::uint8_t> midi, std::uint64_t now_us);
  void release_notes(const std::string& sender, const std::string& why);
  void tick(std::uint64_t now_us);
  void report_bursts(std::uint64_t now_us);
  void flush_throttled_logs(std::uint64_t now_us);
  void send_hello(std::uint64_t now_us);
  void shutdown();
  std::string peer_label(const std::string& id) const;
  std::string stats() const;
  void log_stats() const; // on SIGUSR1 and at shutdown; the counters meshtop will show

  NodeConfig config_;
  zmq::context_t context_;
  SignalPipe signals_;
  std::unique_ptr<hub::Hub> hub_;
  MeshLink link_;
  std::unique_ptr<midi::MidiPorts> midi_;
  midi::NoteTracker notes_;
  PeerTable peers_;
  NodeCounters counters_;
  std::uint64_t next_hello_us_ = 0;
  std::uint64_t last_tick_us_ = 0;
  bool joined_ = false;   // the hub hears us and we hear it
  std::string hub_heard_; // id of the hub whose hello we heard
  log::Throttle malformed_log_, backend_log_, oversize_log_;
  std::map<std::string, bool> version_warned_;
  std::vector<std::vector<std::uint8_t>> input_batch_;
};

// A fresh random node id (wire::node_id_length hex digits).
std::string make_node_id();

} // namespace midimesh::node
