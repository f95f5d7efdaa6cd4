#include "rtpmidi/session_packet.hpp"

namespace midimesh::rtpmidi {
namespace {

constexpr std::size_t header_size = 4;      // FF FF and the command
constexpr std::size_t invitation_size = 16; // without the name
constexpr std::size_t clock_sync_size = 36;
constexpr std::size_t feedback_size = 12;

std::uint16_t read16(std::span<const std::uint8_t> d, std::size_t at) {
  return static_cast<std::uint16_t>((d[at] << 8) | d[at + 1]);
}

std::uint32_t read32(std::span<const std::uint8_t> d, std::size_t at) {
  return (std::uint32_t{d[at]} << 24) | (std::uint32_t{d[at + 1]} << 16) |
         (std::uint32_t{d[at + 2]} << 8) | std::uint32_t{d[at + 3]};
}

std::uint64_t read64(std::span<const std::uint8_t> d, std::size_t at) {
  return (std::uint64_t{read32(d, at)} << 32) | read32(d, at + 4);
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}

DecodedSession failure(SessionError error) {
  return DecodedSession{std::nullopt, error};
}

DecodedSession decode_invitation(Command command, std::span<const std::uint8_t> d) {
  if (d.size() < invitation_size) return failure(SessionError::truncated);
  Invitation packet;
  packet.command = command;
  // The version is not checked here: the session answers another version with NO and counts it.
  packet.version = read32(d, 4);
  packet.token = read32(d, 8);
  packet.ssrc = read32(d, 12);
  // The name ends at its NUL. Peers are sloppy about the rest: BY and NO often carry no name,
  // some omit the NUL at the end of the datagram, and what follows a NUL is of no use to us.
  const auto name = d.subspan(invitation_size);
  std::size_t length = 0;
  while (length < name.size() && name[length] != 0)
    ++length;
  packet.name.assign(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(length));
  return DecodedSession{packet, SessionError::malformed};
}

DecodedSession decode_clock_sync(std::span<const std::uint8_t> d) {
  if (d.size() < clock_sync_size) return failure(SessionError::truncated);
  ClockSync packet;
  packet.ssrc = read32(d, 4);
  packet.count = d[8];
  // A count out of range would make the session misread whose timestamps are whose.
  if (packet.count > 2) return failure(SessionError::malformed);
  for (std::size_t i = 0; i < packet.timestamps.size(); ++i)
    packet.timestamps[i] = read64(d, 12 + 8 * i);
  return DecodedSession{packet, SessionError::malformed};
}

DecodedSession decode_feedback(std::span<const std::uint8_t> d) {
  // Apple sends 12 bytes (sequence number and 2 padding); only the first 10 are needed.
  if (d.size() < 10) return failure(SessionError::truncated);
  ReceiverFeedback packet;
  packet.ssrc = read32(d, 4);
  packet.seq = read16(d, 8);
  return DecodedSession{packet, SessionError::malformed};
}

void put_header(std::vector<std::uint8_t>& out, Command command) {
  out.push_back(0xff);
  out.push_back(0xff);
  put16(out, static_cast<std::uint16_t>(command));
}

} // namespace

std::string_view describe(SessionError error) noexcept {
  switch (error) {
  case SessionError::not_session:
    return "not a session packet";
  case SessionError::truncated:
    return "truncated session packet";
  case SessionError::unknown_command:
    return "unknown session command";
  case SessionError::malformed:
    return "malformed session packet";
  }
  return "unknown session error";
}

bool is_session_packet(std::span<const std::uint8_t> datagram) noexcept {
  return datagram.size() >= 2 && datagram[0] == 0xff && datagram[1] == 0xff;
}

DecodedSession decode_session(std::span<const std::uint8_t> datagram) {
  if (!is_session_packet(datagram)) return failure(SessionError::not_session);
  if (datagram.size() < header_size) return failure(SessionError::truncated);
  const auto command = static_cast<Command>(read16(datagram, 2));
  switch (command) {
  case Command::invitation:
  case Command::accepted:
  case Command::rejected:
  case Command::bye:
    return decode_invitation(command, datagram);
  case Command::clock_sync:
    return decode_clock_sync(datagram);
  case Command::receiver_feedback:
    return decode_feedback(datagram);
  }
  return failure(SessionError::unknown_command);
}

std::vector<std::uint8_t> encode(const Invitation& packet) {
  std::vector<std::uint8_t> out;
  out.reserve(invitation_size + packet.name.size() + 1);
  put_header(out, packet.command);
  put32(out, packet.version);
  put32(out, packet.token);
  put32(out, packet.ssrc);
  // NO and BY go without a name when they have none, as Apple sends them; IN and OK always
  // carry the NUL so that peers that expect a name find an empty one.
  const bool nameless = packet.name.empty() &&
                        (packet.command == Command::rejected || packet.command == Command::bye);
  if (!nameless) {
    // A NUL inside the name would cut it short at the peer: send what the peer would read.
    for (char c : packet.name) {
      if (c == '\0') break;
      out.push_back(static_cast<std::uint8_t>(c));
    }
    out.push_back(0);
  }
  return out;
}

std::vector<std::uint8_t> encode(const ClockSync& packet) {
  std::vector<std::uint8_t> out;
  out.reserve(clock_sync_size);
  put_header(out, Command::clock_sync);
  put32(out, packet.ssrc);
  out.push_back(packet.count);
  out.insert(out.end(), 3, 0);
  for (std::uint64_t t : packet.timestamps)
    put64(out, t);
  return out;
}

std::vector<std::uint8_t> encode(const ReceiverFeedback& packet) {
  std::vector<std::uint8_t> out;
  out.reserve(feedback_size);
  put_header(out, Command::receiver_feedback);
  put32(out, packet.ssrc);
  put16(out, packet.seq);
  put16(out, 0);
  return out;
}

} // namespace midimesh::rtpmidi
