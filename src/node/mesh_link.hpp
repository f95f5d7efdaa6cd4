#pragma once
// A node's two sockets to the hub: an XPUB that publishes into the hub's XSUB and an XSUB that
// receives from its XPUB. Knows the node's id and numbers every message it publishes.
// Reconnecting to another hub (a role change) replaces both sockets; the sequence goes on.
//
// Over TCP each socket connects to the hub `connections` times (PROTOCOL.md section 1, "Several
// connections"). The XPUB sends every message on each connection, the hub forwards the first copy
// (hub/first_copy) on each of ours, and the peer table plays the first copy to arrive: a TCP
// segment lost on one connection (Wi-Fi) holds back that connection for a retransmission timeout
// (200 ms at least on Linux) but not the music, which the other brings. The receiving socket is
// an XSUB because ZeroMQ's SUB connects to one endpoint only once; it subscribes by message.
//
// Why XPUB and not PUB: a publisher silently drops what it is given until the hub's XSUB has
// subscribed over a fresh connection. An XPUB sees that subscription arrive, so messages
// published before it are held (bounded) and sent the moment the path is open.
//
// What went out in the last second is kept, and sent again first when the link moves to
// another hub: what a dead hub swallowed before anyone noticed reaches the others after all,
// and receivers drop what they already had by its sequence number.

#include "security/socket_security.hpp"
#include "wire/envelope.hpp"
#include "wire/socket_monitor.hpp"

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

namespace midimesh::node {

// A node's two sockets before they connect anywhere, with the mesh's options (common ones, the
// security's, deep queues): the XPUB it publishes from, and the XSUB it receives on, subscribed
// to everything but `node_id`'s own messages. MeshLink uses them; so do meshbench's clients.
zmq::socket_t mesh_publisher(zmq::context_t& context, const security::SocketSecurity& security);
zmq::socket_t mesh_subscriber(zmq::context_t& context, const std::string& node_id,
                              const security::SocketSecurity& security);

class MeshLink {
public:
  // connections: per socket, to a hub over TCP (1..max_connections; 0: automatic, wired_links
  // over a wired interface or loopback, where packets are not lost, and wireless_links over
  // Wi-Fi or where the system cannot tell); in-process, always one.
  // security: the mesh's (CURVE client options on both sockets, or none on an open mesh).
  MeshLink(zmq::context_t& context, std::string node_id, int connections = 0,
           security::SocketSecurity security = {});

  static constexpr int wired_links = 1;
  static constexpr int wireless_links = 2;
  static constexpr int max_connections = 4;
  // Connections per socket to the hub now (0 before the first connect()).
  int connections() const noexcept { return connected_; }

  // An empty subscribe_endpoint: a link that only publishes (meshbench's sending clients, whose
  // receiving side is a socket of its own on another thread).
  void connect(const std::string& publish_endpoint, const std::string& subscribe_endpoint);
  // Without a hub (meshbench's baseline, to tell the hub's cost from ZeroMQ's): the publishing
  // socket listens at `endpoint` and mesh_subscriber()s connect to it directly. Holds what is
  // published until the first of them has subscribed. Returns the endpoint bound (a "*" port
  // resolved). Throws zmq::error_t when it cannot bind.
  std::string listen(const std::string& endpoint);
  // Closes both sockets, giving what is queued up to linger_ms to leave.
  void disconnect(int linger_ms);
  bool connected() const noexcept { return static_cast<bool>(subscriber_); }

  enum class Published { sent, held, dropped };
  // Publishes one message with the next sequence number. Until the hub has subscribed it is
  // held (up to max_held messages, then dropped: receivers see the gap).
  Published publish(wire::MessageType type, std::span<const std::uint8_t> payload,
                    std::uint64_t time_us);

  // The same on behalf of a member this node bridges into the mesh (an RTP-MIDI participant):
  // under its id, numbered in its own sequence, which the caller keeps (seq is advanced).
  Published publish_as(const std::string& sender, std::uint64_t& seq, wire::MessageType type,
                       std::span<const std::uint8_t> payload, std::uint64_t time_us);

  // Publishes a message numbered in a sequence of the caller's (telemetry): sent only when the
  // hub is listening, never held. False when not sent. `sender`: a bridged member's id; empty:
  // this node's.
  bool publish_report(wire::MessageType type, std::span<const std::uint8_t> payload,
                      std::uint64_t time_us, std::uint64_t seq, const std::string& sender = {});

  // Reads the hub's (un)subscriptions; call when publisher() is readable.
  void on_publisher_readable();
  // Shortens the retransmission timeout of the TCP connections ZeroMQ made since the last call
  // (wire::shorten_retransmission); call now and then (every heartbeat). Returns how many it
  // could not shorten (the kernel has no such option).
  std::size_t shorten_new_connections();

  // How the handshakes of the connections to a remote hub ended, as libzmq's socket monitor
  // tells it (read by shorten_new_connections()). On a secured mesh it is the only way to learn
  // that a passphrase does not match: the hub just closes the connection, and libzmq retries.
  enum class Handshake {
    succeeded,
    refused_key,     // CURVE, and the hub could not open our hello: another passphrase
    other_mechanism, // one side secured, the other open (or not midimesh at all)
    refused_by_hub,  // the hub's ZAP handler said no
  };
  // What happened since the last call.
  std::vector<Handshake> take_handshakes() { return std::exchange(handshakes_, {}); }
  // The hub has subscribed (and nothing is held back): what is published now goes out at once.
  bool ready() const noexcept { return ready_ && released_; }

  // Connected ahead to a node expected to become hub, before its claim: its proxy forwards to
  // no one yet, so what we sent (the replay first) would be lost. Everything waits, held as
  // while the hub has not subscribed, until release(). connect() releases.
  void hold_back() noexcept { released_ = false; }
  void release();

  static constexpr std::size_t max_held = 4096;          // messages, held or kept for replay
  static constexpr std::size_t max_held_bytes = 4 << 20; // and bytes: SysEx can be large
  static constexpr std::uint64_t replay_window_us = 1'000'000;

  zmq::socket_t& publisher() noexcept { return publisher_; }
  zmq::socket_t& subscriber() noexcept { return subscriber_; }
  const std::string& id() const noexcept { return id_; }
  std::uint64_t published() const noexcept { return next_seq_; }

private:
  zmq::context_t& context_;
  std::string id_;
  int connections_; // 0: automatic
  int connected_ = 0;
  bool send(const std::string& topic, const std::vector<std::uint8_t>& frame);
  void flush(); // what is held, while ready()
  Published publish_frame(std::string topic, std::vector<std::uint8_t> bytes,
                          std::uint64_t time_us);

  std::uint64_t next_seq_ = 0;
  bool ready_ = false;
  bool released_ = true;
  struct Frame {
    std::uint64_t time_us; // when it was published
    std::vector<std::uint8_t> bytes;
    std::string topic; // a bridged member's id; empty: ours (no allocation on the hot path)
  };
  void remember(Frame frame);
  std::deque<Frame> held_;   // published before the hub subscribed
  std::deque<Frame> recent_; // sent lately, for the next hub (numbered messages only)
  std::size_t held_bytes_ = 0, recent_bytes_ = 0;
  zmq::socket_t publisher_;
  zmq::socket_t subscriber_;
  // ZeroMQ's monitors of the two (after them: stopped first): each new TCP connection's fd.
  wire::SocketMonitor publisher_monitor_, subscriber_monitor_;
  std::vector<Handshake> handshakes_; // the subscriber's, not yet taken
  security::SocketSecurity security_;
  std::uint64_t generation_ = 0; // of the sockets: names the monitors' endpoints
};

} // namespace midimesh::node
