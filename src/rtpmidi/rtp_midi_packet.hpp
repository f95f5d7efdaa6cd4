#pragma once
// An RTP packet carrying MIDI (RFC 6295): the RTP header, the MIDI command section (a list of
// commands with delta times) and, optionally, the recovery journal that follows it.
// Pure code: no sockets, no clock. Decoding never throws: bad input is a value.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace midimesh::rtpmidi {

inline constexpr std::uint8_t rtp_midi_payload_type = 0x61; // dynamic type Apple uses (97)

struct RtpHeader {
  std::uint16_t seq = 0;
  std::uint32_t timestamp = 0; // the session's clock, 10 kHz (100 us units) in AppleMIDI
  std::uint32_t ssrc = 0;
  std::uint8_t payload_type = rtp_midi_payload_type;
  bool marker = false;
  bool operator==(const RtpHeader&) const = default;
};

// One command of the MIDI list, as it stands in the packet after running status is expanded:
// a complete MIDI message with its status byte, or one segment of a SysEx split across
// commands or packets (F0 ... F0 first, F7 ... F0 middle, F7 ... F7 last, F7 ... F4 cancel;
// a whole SysEx is F0 ... F7). System real-time bytes found inside a SysEx come out as commands
// of their own, ahead of the SysEx that carried them.
struct MidiCommand {
  std::uint32_t delta = 0; // in RTP timestamp units, relative to the previous command
  std::vector<std::uint8_t> bytes;
  bool operator==(const MidiCommand&) const = default;
};

struct MidiPacket {
  RtpHeader header;
  std::vector<MidiCommand> commands;
  bool has_journal = false;
  bool phantom = false; // P flag: the first command's status was running in the last packet
  std::span<const std::uint8_t> journal; // the journal's bytes, into the decoded datagram
};

enum class RtpError {
  truncated,         // shorter than the header or than the command section's length says
  not_rtp_midi,      // RTP version other than 2, or a payload type we do not take
  malformed_command, // a data byte without a status, a status inside a SysEx, ...
};

std::string_view describe(RtpError error) noexcept;

struct DecodedRtp {
  std::optional<MidiPacket> packet;
  RtpError error = RtpError::malformed_command; // meaningful only without packet
  explicit operator bool() const noexcept { return packet.has_value(); }
};

// Decodes with running status expanded (the first command of a packet may run on the status of
// the last packet's last command only when the P flag says so; `running_status` is that status,
// 0 for none). Accepts any RTP payload type: AppleMIDI peers use 0x61.
DecodedRtp decode_midi_packet(std::span<const std::uint8_t> datagram,
                              std::uint8_t running_status = 0);

// Encodes every command with its own status byte (no running status on send) and each delta as
// given (the first command's delta only when non-zero: the Z flag; also a zero one when the
// first command is a single byte, as node-rtpmidi loses a one-byte command section). `journal`
// is appended whole (the J flag is set when it is not empty). Throws std::length_error when the
// command section would exceed max_command_section: pack commands with encoded_size.
std::vector<std::uint8_t> encode_midi_packet(const RtpHeader& header,
                                             std::span<const MidiCommand> commands,
                                             std::span<const std::uint8_t> journal = {});

// Bytes `command` takes in a command section: its delta time (none for the first command of a
// packet when zero, unless it is a single byte) and its bytes. For packing commands into packets of
// a bounded size.
std::size_t encoded_size(const MidiCommand& command, bool first_in_packet) noexcept;
// The largest command section length field allows (12 bits).
inline constexpr std::size_t max_command_section = 4095;

} // namespace midimesh::rtpmidi
