#pragma once
// AppleMIDI session packets ("exchange packets"): the invitations, clock synchronisation and
// receiver feedback that Apple's network MIDI sends beside RTP on its control and data ports.
// Pure code: no sockets, no clock. Decoding never throws: bad input is a value.
//
// Layout (all big-endian), each starting with the signature FF FF and a two-letter command:
//   IN, OK, NO, BY: version (4) = 2, initiator token (4), SSRC (4), name (NUL-terminated, may
//                   be absent in NO and BY)
//   CK:             SSRC (4), count (1) 0..2, padding (3), three 64-bit timestamps (100 us units)
//   RS:             SSRC (4), sequence number (2), padding (2)

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace midimesh::rtpmidi {

inline constexpr std::uint32_t apple_midi_version = 2;

enum class Command : std::uint16_t {
  invitation = 0x494e,        // "IN"
  accepted = 0x4f4b,          // "OK"
  rejected = 0x4e4f,          // "NO"
  bye = 0x4259,               // "BY"
  clock_sync = 0x434b,        // "CK"
  receiver_feedback = 0x5253, // "RS"
};

// IN, OK, NO and BY share one layout.
struct Invitation {
  Command command = Command::invitation;
  std::uint32_t version = apple_midi_version;
  std::uint32_t token = 0;
  std::uint32_t ssrc = 0;
  std::string name; // the session's name; may be empty (NO, BY)
  bool operator==(const Invitation&) const = default;
};

struct ClockSync {
  std::uint32_t ssrc = 0;
  std::uint8_t count = 0; // 0: initiator's first, 1: the answer, 2: initiator's second
  std::array<std::uint64_t, 3> timestamps{}; // in 100 us units
  bool operator==(const ClockSync&) const = default;
};

// "I have received everything up to seq": the sender may drop journal history up to it.
struct ReceiverFeedback {
  std::uint32_t ssrc = 0;
  std::uint16_t seq = 0;
  bool operator==(const ReceiverFeedback&) const = default;
};

using SessionPacket = std::variant<Invitation, ClockSync, ReceiverFeedback>;

enum class SessionError {
  not_session,     // no FF FF signature: an RTP packet, or garbage
  truncated,       // shorter than its command needs
  unknown_command, // signature but a command we do not know
  malformed,       // e.g. a CK count above 2, a name that is not NUL-terminated
};

std::string_view describe(SessionError error) noexcept;

struct DecodedSession {
  std::optional<SessionPacket> packet;
  SessionError error = SessionError::malformed; // meaningful only without packet
  explicit operator bool() const noexcept { return packet.has_value(); }
};

// True when the datagram starts with the FF FF signature of a session packet.
bool is_session_packet(std::span<const std::uint8_t> datagram) noexcept;
DecodedSession decode_session(std::span<const std::uint8_t> datagram);

std::vector<std::uint8_t> encode(const Invitation& packet);
std::vector<std::uint8_t> encode(const ClockSync& packet);
std::vector<std::uint8_t> encode(const ReceiverFeedback& packet);

} // namespace midimesh::rtpmidi
