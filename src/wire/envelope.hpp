#pragma once
// The msgpack envelope of wire protocol v1 (see PROTOCOL.md beside this file).
// Pure code: no sockets, no clock. Decoding never throws: bad input is a value.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace midimesh::wire {

inline constexpr std::uint32_t protocol_version = 1;
inline constexpr std::size_t node_id_length = 16; // lowercase hex of a random 64-bit number
// A frame larger than this is refused by the hub (ZMQ_MAXMSGSIZE) and by every receiver.
inline constexpr std::size_t max_frame_size = 512 * 1024;
// The largest MIDI message (a SysEx) a node puts on the wire; leaves room for the envelope.
inline constexpr std::size_t max_midi_size = 256 * 1024;

enum class MessageType : std::uint8_t {
  midi = 1,
  hello = 2,   // heartbeat; also announces name and role
  goodbye = 3, // clean leave: receivers release this sender's notes at once
  // A hub's hello sent to other nodes' hub proxies, so that a rival hub (after a network
  // partition heals) is noticed. Numbered on its own: receivers skip sequence accounting.
  hub_beacon = 4,
  // Telemetry (meshtop): the hub sends it to its monitor port, never to the nodes. Numbered on
  // its own, like the beacon.
  status = 5,
  ping = 6, // to the hub, which answers with a pong: round trip and clock offset
  pong = 7,
};

enum class Role : std::uint8_t { node = 0, hub = 1 };

struct Hello {
  std::string name;
  Role role = Role::node;
  std::string program; // e.g. "midimesh 0.1.0"
  // What the hub election needs to know about the sender (see ELECTION.md).
  std::string mesh = "default";
  int priority = 0;
  bool eligible = true;       // may become hub
  bool forced = false;        // is hub whatever happens (--hub)
  std::string hub;            // the hub it follows (itself when hub); empty: none yet
  std::uint64_t term = 0;     // that hub's election term
  std::uint16_t hub_port = 0; // base port of its own (standby) hub proxy; 0: none
  // The address the sender reaches its hub from, where the others may reach its proxy: news
  // from the node itself, fresher than mDNS's cache. Empty: unknown.
  std::string address;
  // "node" for a midimesh node; "rtp" for an RTP-MIDI participant (a Mac, an iPad) that a
  // node bridges into the mesh under an id of its own. Bridged members never become hub.
  std::string kind = "node";
  std::string via; // for a bridged member: the id of the node it is connected through
  bool operator==(const Hello&) const = default;
};

// A node's report, about once a second (section 5 of PROTOCOL.md lists the keys).
struct Status {
  std::string name, host, program, mesh, role, hub;
  std::uint32_t protocol = protocol_version;
  std::uint64_t term = 0, uptime_ms = 0;
  std::uint64_t midi_in = 0, midi_in_bytes = 0;   // from the mesh, played on our output
  std::uint64_t midi_out = 0, midi_out_bytes = 0; // from our input, sent into the mesh
  std::uint64_t lost = 0, malformed = 0;
  std::int64_t rtt_us = -1;   // round trip to the hub through the mesh; -1: not measured yet
  std::int64_t offset_us = 0; // hub clock minus ours, estimated from the same ping
  std::uint64_t peers = 0;
  std::string kind = "node"; // as in Hello
  std::string via;           // as in Hello
  // The node's RTP-MIDI session (0: none), and what it saw: packets lost on the way in,
  // messages recovered from journals, bad input (malformed packets, unknown SSRCs,
  // invitations refused).
  std::uint64_t rtp_port = 0, rtp_lost = 0, rtp_recovered = 0, rtp_bad = 0;
  // Connections and claims refused: handshakes that failed (another passphrase, or garbage on
  // its hub's ports), keys its hub's ZAP handler turned away, hub claims it did not believe.
  std::uint64_t refused = 0;
  // As hub: messages it dropped, over their sender's budget or with its receivers' queues full.
  std::uint64_t hub_dropped = 0;
  bool operator==(const Status&) const = default;
};

struct Ping {
  std::string to;       // the hub's id
  std::uint64_t t0 = 0; // sender's wall clock at sending, us
  bool operator==(const Ping&) const = default;
};

struct Pong {
  std::string to;       // who pinged
  std::uint64_t t0 = 0; // echoed from the ping
  std::uint64_t t1 = 0; // the hub's wall clock when it answered, us
  bool operator==(const Pong&) const = default;
};

struct Goodbye {
  std::string reason;
  bool operator==(const Goodbye&) const = default;
};

struct Envelope {
  std::uint32_t version = protocol_version;
  std::uint8_t type = 0; // a MessageType, or a type from a newer peer
  std::string sender;    // node id, node_id_length hex digits
  std::uint64_t seq = 0; // per sender, +1 for every message it publishes
  std::uint64_t time_us = 0;
  // Payload: MIDI bytes for `midi`, a msgpack map for the others (kept raw here).
  std::vector<std::uint8_t> payload;
  bool operator==(const Envelope&) const = default;
};

enum class DecodeError {
  malformed,        // not a msgpack array of the v1 shape, truncated, trailing bytes
  too_large,        // frame over max_frame_size
  version_mismatch, // well formed header, but another protocol version
  bad_sender,       // sender id not node_id_length lowercase hex, or not the topic frame
};

std::string_view describe(DecodeError error) noexcept;

// A parsed envelope whose sender and payload point into the frame it was parsed from: lets the
// hub check a frame without copying it.
struct EnvelopeView {
  std::uint32_t version = protocol_version;
  std::uint8_t type = 0;
  std::string_view sender;
  std::uint64_t seq = 0;
  std::uint64_t time_us = 0;
  std::span<const std::uint8_t> payload;
};

struct Parsed {
  std::optional<EnvelopeView> view;
  DecodeError error = DecodeError::malformed; // meaningful only without view
  std::uint64_t version = 0;                  // the peer's version, when readable
  explicit operator bool() const noexcept { return view.has_value(); }
};

struct Decoded {
  std::optional<Envelope> envelope;
  DecodeError error = DecodeError::malformed; // meaningful only without envelope
  std::uint64_t version = 0;                  // the peer's version, when readable
  explicit operator bool() const noexcept { return envelope.has_value(); }
};

std::vector<std::uint8_t> encode(const Envelope& envelope);
// The same, from its parts, for senders that keep no Envelope around.
std::vector<std::uint8_t> encode(MessageType type, std::string_view sender, std::uint64_t seq,
                                 std::uint64_t time_us, std::span<const std::uint8_t> payload);
Parsed parse(std::span<const std::uint8_t> frame);
Decoded decode(std::span<const std::uint8_t> frame);

// Payload helpers for the non-MIDI types. Decoding a map ignores keys it does not know,
// so later minor revisions can add fields.
std::vector<std::uint8_t> encode_payload(const Hello& hello);
std::vector<std::uint8_t> encode_payload(const Goodbye& goodbye);
std::vector<std::uint8_t> encode_payload(const Status& status);
std::vector<std::uint8_t> encode_payload(const Ping& ping);
std::vector<std::uint8_t> encode_payload(const Pong& pong);
std::optional<Status> decode_status(std::span<const std::uint8_t> payload);
std::optional<Ping> decode_ping(std::span<const std::uint8_t> payload);
std::optional<Pong> decode_pong(std::span<const std::uint8_t> payload);
std::optional<Hello> decode_hello(std::span<const std::uint8_t> payload);
std::optional<Goodbye> decode_goodbye(std::span<const std::uint8_t> payload);

bool is_node_id(std::string_view id) noexcept;

} // namespace midimesh::wire
