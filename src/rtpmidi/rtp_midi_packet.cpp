#include "rtpmidi/rtp_midi_packet.hpp"

#include <algorithm>
#include <stdexcept>

namespace midimesh::rtpmidi {
namespace {

constexpr std::size_t rtp_header_size = 12;
constexpr std::uint8_t flag_b = 0x80; // 12-bit LEN
constexpr std::uint8_t flag_j = 0x40; // a journal follows the command section
constexpr std::uint8_t flag_z = 0x20; // the first command has a delta time
constexpr std::uint8_t flag_p = 0x10; // phantom: the first status was running at the source
constexpr std::uint32_t max_delta = 0x0fffffff; // four 7-bit groups

bool is_real_time(std::uint8_t status) {
  return status >= 0xf8;
}
bool is_channel(std::uint8_t status) {
  return status >= 0x80 && status < 0xf0;
}
bool is_sysex(std::uint8_t status) {
  return status == 0xf0 || status == 0xf7;
}

// Data bytes after a status byte, for everything but SysEx. Undefined F4, F5, F9 and FD are
// taken as one byte, as MIDI 1.0 receivers do.
std::size_t data_length(std::uint8_t status) {
  switch (status & 0xf0) {
  case 0xc0:
  case 0xd0:
    return 1;
  case 0xf0:
    break;
  default:
    return 2;
  }
  switch (status) {
  case 0xf1:
  case 0xf3:
    return 1;
  case 0xf2:
    return 2;
  default:
    return 0;
  }
}

std::size_t delta_length(std::uint32_t delta) {
  if (delta < (1u << 7)) return 1;
  if (delta < (1u << 14)) return 2;
  if (delta < (1u << 21)) return 3;
  return 4;
}

// node-rtpmidi cannot read a command section of one byte (its loop stops a byte short), so a
// lone one-byte command would be lost there: such a first command carries a zero delta (Z set),
// which RFC 6295 allows.
bool first_has_delta(const MidiCommand& command) {
  return command.delta != 0 || command.bytes.size() == 1;
}

// Reads one command section. Running status follows MIDI 1.0: channel messages set it, system
// common messages (SysEx included) cancel it, real-time messages leave it alone.
class CommandReader {
public:
  CommandReader(std::span<const std::uint8_t> section, std::uint8_t running,
                std::vector<MidiCommand>& out)
      : section_(section), running_(running), out_(out) {}

  bool read(bool first_has_delta) {
    bool first = true;
    while (pos_ < section_.size()) {
      std::uint32_t delta = 0;
      if ((!first || first_has_delta) && !read_delta(delta)) return false;
      if (!read_command(delta)) return false;
      first = false;
    }
    return true;
  }

private:
  bool read_delta(std::uint32_t& delta) {
    for (int i = 0; i < 4; ++i) {
      if (pos_ >= section_.size()) return false;
      const std::uint8_t b = section_[pos_++];
      delta = (delta << 7) | (b & 0x7f);
      if (!(b & 0x80)) return true;
    }
    return false; // a fifth byte would be needed: not a delta time
  }

  bool read_command(std::uint32_t delta) {
    if (pos_ >= section_.size()) return false; // a delta time with no command after it
    std::uint8_t status = section_[pos_];
    if (status & 0x80) {
      ++pos_;
    } else if (running_) {
      status = running_;
    } else if (repeated_) {
      // node-rtpmidi leaves out any status equal to the previous one, SysEx and system common
      // included. A data byte here has no other meaning, so take it the way it was sent.
      status = repeated_;
    } else {
      return false;
    }
    if (is_sysex(status)) return read_sysex(status, delta);

    MidiCommand command{delta, {status}};
    const std::size_t length = data_length(status);
    if (length > section_.size() - pos_) return false;
    for (std::size_t i = 0; i < length; ++i) {
      const std::uint8_t b = section_[pos_++];
      if (b & 0x80) return false;
      command.bytes.push_back(b);
    }
    if (is_channel(status)) {
      running_ = status;
      repeated_ = 0;
    } else if (!is_real_time(status)) {
      running_ = 0;
      repeated_ = length > 0 ? status : 0;
    }
    out_.push_back(std::move(command));
    return true;
  }

  // A SysEx command runs to F7 (end), F0 (more segments follow) or F4 (cancelled). Real-time
  // bytes inside it become commands of their own, ahead of the SysEx.
  bool read_sysex(std::uint8_t status, std::uint32_t delta) {
    MidiCommand sysex{0, {status}};
    for (;;) {
      if (pos_ >= section_.size()) return false;
      const std::uint8_t b = section_[pos_++];
      if (!(b & 0x80)) {
        sysex.bytes.push_back(b);
      } else if (is_real_time(b)) {
        out_.push_back(MidiCommand{delta, {b}});
        delta = 0;
      } else if (b == 0xf7 || b == 0xf0 || b == 0xf4) {
        sysex.bytes.push_back(b);
        break;
      } else {
        return false;
      }
    }
    sysex.delta = delta;
    running_ = 0;
    repeated_ = status == 0xf0 && sysex.bytes.back() == 0xf7 ? status : 0;
    out_.push_back(std::move(sysex));
    return true;
  }

  std::span<const std::uint8_t> section_;
  std::size_t pos_ = 0;
  std::uint8_t running_;
  std::uint8_t repeated_ = 0; // the last SysEx or system common with data, for node-rtpmidi
  std::vector<MidiCommand>& out_;
};

DecodedRtp failure(RtpError error) {
  return DecodedRtp{std::nullopt, error};
}

void put_delta(std::vector<std::uint8_t>& out, std::uint32_t delta) {
  delta = std::min(delta, max_delta);
  for (std::size_t i = delta_length(delta); i > 1; --i)
    out.push_back(static_cast<std::uint8_t>(0x80 | ((delta >> (7 * (i - 1))) & 0x7f)));
  out.push_back(static_cast<std::uint8_t>(delta & 0x7f));
}

} // namespace

std::string_view describe(RtpError error) noexcept {
  switch (error) {
  case RtpError::truncated:
    return "truncated RTP-MIDI packet";
  case RtpError::not_rtp_midi:
    return "not an RTP-MIDI packet";
  case RtpError::malformed_command:
    return "malformed MIDI command in RTP-MIDI packet";
  }
  return "unknown RTP-MIDI error";
}

DecodedRtp decode_midi_packet(std::span<const std::uint8_t> datagram, std::uint8_t running_status) {
  if (datagram.size() < rtp_header_size) return failure(RtpError::truncated);
  const std::uint8_t first = datagram[0];
  if ((first >> 6) != 2) return failure(RtpError::not_rtp_midi);

  MidiPacket packet;
  packet.header.marker = (datagram[1] & 0x80) != 0;
  packet.header.payload_type = datagram[1] & 0x7f;
  packet.header.seq = static_cast<std::uint16_t>((datagram[2] << 8) | datagram[3]);
  packet.header.timestamp = (std::uint32_t{datagram[4]} << 24) |
                            (std::uint32_t{datagram[5]} << 16) | (std::uint32_t{datagram[6]} << 8) |
                            datagram[7];
  packet.header.ssrc = (std::uint32_t{datagram[8]} << 24) | (std::uint32_t{datagram[9]} << 16) |
                       (std::uint32_t{datagram[10]} << 8) | datagram[11];

  std::size_t offset = rtp_header_size + 4 * std::size_t{first & 0x0fu}; // CSRC list
  if (first & 0x10) { // header extension: 16-bit profile data, 16-bit length in 32-bit words
    if (datagram.size() < offset + 4) return failure(RtpError::truncated);
    offset += 4 + 4 * ((std::size_t{datagram[offset + 2]} << 8) | datagram[offset + 3]);
  }
  std::size_t end = datagram.size();
  if (first & 0x20) { // padding: the last byte counts the padding bytes, itself included
    const std::size_t padding = datagram.back();
    if (padding == 0 || padding > end) return failure(RtpError::truncated);
    end -= padding;
  }
  if (offset >= end) return failure(RtpError::truncated); // no command section header
  const auto payload = datagram.subspan(offset, end - offset);

  const std::uint8_t flags = payload[0];
  std::size_t length = flags & 0x0f;
  std::size_t section_start = 1;
  if (flags & flag_b) {
    if (payload.size() < 2) return failure(RtpError::truncated);
    length = (length << 8) | payload[1];
    section_start = 2;
  }
  if (length > payload.size() - section_start) return failure(RtpError::truncated);
  packet.has_journal = (flags & flag_j) != 0;
  packet.phantom = (flags & flag_p) != 0;
  // The journal's own decoder judges whether it is complete.
  if (packet.has_journal) packet.journal = payload.subspan(section_start + length);

  const std::uint8_t running = packet.phantom && is_channel(running_status) ? running_status : 0;
  CommandReader reader(payload.subspan(section_start, length), running, packet.commands);
  if (!reader.read((flags & flag_z) != 0)) return failure(RtpError::malformed_command);
  return DecodedRtp{std::move(packet), RtpError::malformed_command};
}

std::size_t encoded_size(const MidiCommand& command, bool first_in_packet) noexcept {
  const bool has_delta = !first_in_packet || first_has_delta(command);
  return (has_delta ? delta_length(std::min(command.delta, max_delta)) : 0) + command.bytes.size();
}

std::vector<std::uint8_t> encode_midi_packet(const RtpHeader& header,
                                             std::span<const MidiCommand> commands,
                                             std::span<const std::uint8_t> journal) {
  std::size_t length = 0;
  for (std::size_t i = 0; i < commands.size(); ++i)
    length += encoded_size(commands[i], i == 0);
  if (length > max_command_section)
    throw std::length_error("RTP-MIDI command section over 4095 bytes");

  std::vector<std::uint8_t> out;
  out.reserve(rtp_header_size + 2 + length + journal.size());
  out.push_back(0x80); // V=2, no padding, no extension, no CSRC
  out.push_back(
      static_cast<std::uint8_t>((header.marker ? 0x80 : 0) | (header.payload_type & 0x7f)));
  out.push_back(static_cast<std::uint8_t>(header.seq >> 8));
  out.push_back(static_cast<std::uint8_t>(header.seq));
  for (std::uint32_t word : {header.timestamp, header.ssrc})
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(word >> shift));

  std::uint8_t flags = journal.empty() ? 0 : flag_j;
  const bool z = !commands.empty() && first_has_delta(commands.front());
  if (z) flags |= flag_z;
  if (length > 15) {
    out.push_back(static_cast<std::uint8_t>(flags | flag_b | (length >> 8)));
    out.push_back(static_cast<std::uint8_t>(length));
  } else {
    out.push_back(static_cast<std::uint8_t>(flags | length));
  }
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (i > 0 || z) put_delta(out, commands[i].delta);
    out.insert(out.end(), commands[i].bytes.begin(), commands[i].bytes.end());
  }
  out.insert(out.end(), journal.begin(), journal.end());
  return out;
}

} // namespace midimesh::rtpmidi
