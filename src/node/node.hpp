#pragma once
// One midimesh process: a member of the mesh, and the hub too when its role says so. A single
// event loop polls the mesh sockets, the hub's sockets, MIDI input and signals.

#include "bridge/rtp_bridge.hpp"
#include "discovery/advertisement.hpp"
#include "discovery/discovery.hpp"
#include "election/election.hpp"
#include "failover/hub_steering.hpp"
#include "hub/hub.hpp"
#include "log/throttle.hpp"
#include "midi/midi_ports.hpp"
#include "midi/note_tracker.hpp"
#include "node/mesh_link.hpp"
#include "node/peer_table.hpp"
#include "node/signals.hpp"
#include "security/socket_security.hpp"
#include "security/zap_handler.hpp"
#include "wire/transport.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <zmq.hpp>

namespace midimesh::node {

enum class Mode {
  automatic, // find the mesh by mDNS and take part in the hub election (the default)
  hub,       // always the hub (--hub); still announced by mDNS
  connect,   // join the hub at hub_address and nothing else (--connect)
};

struct NodeConfig {
  Mode mode = Mode::automatic;
  wire::HostPort hub_address; // connect mode
  std::string bind_address = "*";
  std::uint16_t port = wire::default_port; // of this node's (standby) hub proxy
  std::string name;
  std::string mesh = "default";
  int priority = 0;
  // TCP connections to the hub per socket: each message goes on each; one lost packet then
  // stalls only its own connection (MeshLink). 0: 1 over a wired link, 2 over Wi-Fi.
  int connections = 0;
  bool eligible = true; // --no-hub: false
  bool discovery = true;
  bool midi = true;
  midi::MidiConfig midi_config;
  std::uint64_t heartbeat_us = 100'000; // the loop's timer, and the hub's hello
  // A follower's hello only keeps it in its peers' tables (peer_timeout_us): every fifth
  // heartbeat does, and spares every other node four wake-ups per follower.
  std::uint64_t node_hello_us = 500'000;
  // A follower whose hub is silent this long elects another: a few heartbeats.
  std::uint64_t hub_timeout_us = 400'000;
  std::uint64_t peer_timeout_us = 1'500'000;
  // --connect: a hub link silent this long is rebuilt with new sockets. Only ZeroMQ giving a
  // connection up for good (a frame over ZMQ_MAXMSGSIZE) needs that, and waiting does not cure
  // it; a busy machine's silence does pass, and new sockets would lose what the old ones held.
  std::uint64_t link_rebuild_us = 5'000'000;
  election::Timing election_timing;
  // The RTP-MIDI session (Macs, iPads, Windows rtpMIDI): on unless --no-rtp-midi.
  bool rtp_midi = true;
  // On a secured mesh AppleMIDI's lack of any password would let anyone in through this node:
  // the session runs only when this says so (--rtp-midi-open).
  bool rtp_midi_open = false;
  bridge::RtpConfig rtp;    // session_name empty: "midimesh MESH (NAME)"
  hub::BudgetLimits budget; // each sender's, when this node is hub
  // Open (the default) or secured by a passphrase (--secret-file, MIDIMESH_SECRET).
  security::SocketSecurity security;
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
  std::uint64_t hub_changes = 0;    // failovers, hand-overs and split brains resolved
  std::uint64_t rtp_joined = 0;     // RTP-MIDI participants that joined through this node
  std::uint64_t seq_resyncs = 0;    // senders' numberings taken as restarted (PeerTable)
  std::uint64_t out_of_line = 0;    // numbers a sender's next message disowned: forged?
  std::uint64_t foreign_mesh = 0;   // MIDI from senders of another mesh, not played
  std::uint64_t reconnects = 0;     // --connect: links to the hub rebuilt after it fell silent
  // Hub claims refused: a claim through another hub's proxy, or a term no mesh reaches.
  std::uint64_t refused_claims = 0;
  // Secured mesh: our connections the hub refused (another passphrase, or an open hub), and
  // connections our hub's ZAP handler refused.
  std::uint64_t failed_handshakes = 0;
  std::uint64_t refused_peers = 0;
};

class Node : private discovery::Listener, private bridge::RtpBridge::Listener {
public:
  // Throws hub::HubError when the hub proxy cannot bind. A missing MIDI backend or mDNS daemon
  // is not fatal: the node says so and goes on without.
  explicit Node(NodeConfig config);
  ~Node();

  // Runs until SIGINT, SIGTERM or SIGHUP, then leaves the mesh cleanly (also after an
  // unexpected error inside the loop, which it logs: exit code 1). Returns the exit code.
  int run();

  const NodeCounters& counters() const noexcept { return counters_; }

private:
  // The event loop's parts (node.cpp). loop() returns on SIGINT, SIGTERM or SIGHUP.
  void loop();
  void on_mesh_readable(std::uint64_t now_us);
  void on_envelope(const wire::Envelope& envelope, std::uint64_t now_us);
  void on_hello(const wire::Envelope& envelope, Peer& peer, std::uint64_t now_us);
  void on_goodbye(const wire::Envelope& envelope, std::uint64_t now_us);
  void on_beacon(const wire::Envelope& envelope, std::uint64_t now_us);
  void note_sequence_event(const std::string& sender, const Arrival& arrival, std::uint64_t now_us);
  void on_midi_input();
  void on_publisher_readable();
  void on_handshakes(std::uint64_t now_us); // what link_.take_handshakes() says, each tick
  void on_zap_request(std::uint64_t now_us);
  void check_joined();
  void deliver(const std::string& sender, std::span<const std::uint8_t> midi, std::uint64_t now_us);
  void release_notes(const std::string& sender, const std::string& why);
  void release_all_notes(const std::string& why);
  // Plays note-offs on the output, counts them and says why in one line.
  void play_releases(const std::vector<midi::Message>& offs, const std::string& reason);
  void tick(std::uint64_t now_us);
  void report_bursts(std::uint64_t now_us);
  void flush_throttled_logs(std::uint64_t now_us);
  void send_hello();
  // Passes on what the MIDI backend held back this turn; counts what it could not deliver.
  void flush_midi(std::uint64_t now_us);
  // At the next turn of the loop, whatever the role.
  void hello_now() noexcept { next_hello_us_ = next_node_hello_us_ = 0; }
  void shutdown();
  std::string peer_label(const std::string& id) const;
  std::string stats() const;
  void log_stats() const; // on SIGUSR1 and at shutdown; the counters meshtop will show

  // Telemetry for meshtop (telemetry.cpp).
  void report(std::uint64_t now_us);
  void on_ping(const wire::Envelope& envelope);
  void on_pong(const wire::Envelope& envelope);

  // Who is hub, and where to connect: failover::HubSteering decides, steering.cpp applies
  // its actions to the sockets.
  void start_roles(std::uint64_t now_us);
  void steer(std::uint64_t now_us);
  void apply(const failover::Actions& actions, std::uint64_t now_us);
  void apply(const failover::Action& action, std::uint64_t now_us);
  // The link now points at another hub (or a fresh connection to the same one).
  void hub_switched(bool hub_change);
  void check_link_alive(std::uint64_t now_us); // --connect: rebuild a link ZeroMQ gave up
  void announce();
  void send_beacons(std::uint64_t now_us);
  // A claim heard second-hand is checked by a SUB on the claimant's proxy beside the working
  // link (ELECTION.md rule 1): what it hears goes to HubSteering::on_check_hello.
  void open_probe(const failover::OpenCheck& check);
  void on_probe_readable(std::uint64_t now_us);
  wire::Hello hello() const;
  bool is_hub() const noexcept { return steering_.is_hub(); }
  void node_seen(const discovery::SeenNode& node) override;
  void node_gone(const std::string& id) override;

  // RTP-MIDI participants as members of the mesh (members.cpp).
  void start_rtp_midi();
  void member_joined(const bridge::Member& member) override;
  void member_played(const bridge::Member& member, std::span<const std::uint8_t> midi) override;
  void member_left(const bridge::Member& member, const std::string& why) override;
  void send_member_hellos();
  void report_members(std::uint64_t now_us);
  void members_leave(const std::string& why);
  wire::Hello member_hello(const bridge::Member& member) const;

  // Before the context, so it ends after it: the context's end waits for the goodbye to linger
  // out, and a second Ctrl-C or SIGTERM meanwhile must not kill the node before it has left.
  SignalPipe signals_;
  NodeConfig config_;
  zmq::context_t context_;
  std::optional<security::ZapHandler> zap_; // secured mesh: before any hub socket binds
  std::unique_ptr<hub::Hub> hub_; // this node's proxy: forwarding when it is the hub, else idle
  MeshLink link_;
  std::unique_ptr<midi::MidiPorts> midi_;
  midi::NoteTracker notes_;
  PeerTable peers_;
  NodeCounters counters_;
  std::uint64_t next_hello_us_ = 0;      // the next tick
  std::uint64_t next_node_hello_us_ = 0; // a follower's next hello
  bool joined_ = false;                  // the hub hears us and we hear it
  bool stopping_ = false;                // SIGINT, SIGTERM or SIGHUP came: loop() returns
  bool warned_retransmission_ = false;

  // Which hub the link follows, the election and failover: pure, fed what the loop hears.
  failover::HubSteering steering_;
  std::unique_ptr<discovery::Discovery> discovery_;
  std::string own_address_;  // where this node reaches its hub from, for its hello
  std::uint64_t now_us_ = 0; // when the loop last woke: for discovery callbacks
  // While hub: a publisher connected to every other node's hub proxy, for the beacon.
  zmq::socket_t beacon_;
  std::set<std::string> beacon_endpoints_;
  std::uint64_t next_beacon_us_ = 0;
  std::uint64_t beacon_seq_ = 0;
  zmq::socket_t probe_; // a SUB on the proxy of the claim being checked (steering_.checking())

  std::uint64_t started_us_ = 0;
  std::uint64_t next_status_us_ = 0;
  std::uint64_t status_seq_ = 0;
  std::int64_t rtt_us_ = -1;   // to the hub, through the mesh; -1 until measured
  std::int64_t offset_us_ = 0; // hub clock minus ours

  std::unique_ptr<bridge::RtpBridge> rtp_;
  std::unique_ptr<discovery::Advertisement> rtp_advertisement_;
  // What the node keeps for each member it bridges: its sequences on the mesh.
  struct MemberSequences {
    std::uint64_t next_seq = 0, status_seq = 0;
    std::uint64_t joined_us = 0; // its uptime in status reports counts from here
  };
  std::map<std::string, MemberSequences> member_seqs_;
  std::uint64_t next_member_hello_us_ = 0;

  log::Throttle malformed_log_, backend_log_, oversize_log_, sequence_log_, reconnect_log_,
      handshake_log_, zap_log_;
  std::uint64_t last_mesh_rx_us_ = 0; // when the link last delivered anything
  std::map<std::string, bool> version_warned_;
  std::vector<std::vector<std::uint8_t>> input_batch_;
};

// A fresh random node id (wire::node_id_length hex digits).
std::string make_node_id();

} // namespace midimesh::node
