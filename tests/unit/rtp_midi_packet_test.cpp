#include "rtpmidi/rtp_midi_packet.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

using namespace midimesh::rtpmidi;
using Bytes = std::vector<std::uint8_t>;

namespace {

// An RTP header as node-rtpmidi and Apple write it: V=2, no CSRC, payload type 0x61,
// sequence 0x1234, timestamp 0x01020304, SSRC 0xaabbccdd.
const Bytes rtp_header = {0x80, 0x61, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb, 0xcc, 0xdd};

const RtpHeader header_fields{0x1234, 0x01020304, 0xaabbccdd, 0x61, false};

// A datagram: the RTP header, then the payload (command section header included).
Bytes datagram(const Bytes& payload) {
  Bytes out = rtp_header;
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// A datagram with a short (4-bit LEN) command section and the given flags (B J Z P bits).
Bytes with_section(const Bytes& section, std::uint8_t flags = 0) {
  REQUIRE(section.size() <= 15);
  Bytes payload{static_cast<std::uint8_t>(flags | section.size())};
  payload.insert(payload.end(), section.begin(), section.end());
  return datagram(payload);
}

std::vector<MidiCommand> commands_of(const Bytes& bytes, std::uint8_t running = 0) {
  const DecodedRtp decoded = decode_midi_packet(bytes, running);
  REQUIRE(decoded);
  return decoded.packet->commands;
}

RtpError error_of(const Bytes& bytes, std::uint8_t running = 0) {
  const DecodedRtp decoded = decode_midi_packet(bytes, running);
  REQUIRE_FALSE(decoded);
  return decoded.error;
}

std::size_t section_size(const std::vector<MidiCommand>& commands) {
  std::size_t size = 0;
  for (std::size_t i = 0; i < commands.size(); ++i)
    size += encoded_size(commands[i], i == 0);
  return size;
}

Bytes sysex_of_size(std::size_t size) {
  Bytes sysex(size, 0);
  sysex.front() = 0xf0;
  for (std::size_t i = 1; i + 1 < size; ++i)
    sysex[i] = static_cast<std::uint8_t>(i % 128);
  sysex.back() = 0xf7;
  return sysex;
}

} // namespace

TEST_CASE("a note-on encodes to the smallest RTP-MIDI packet") {
  const RtpHeader& header = header_fields;
  const std::vector<MidiCommand> commands = {{0, {0x90, 0x3c, 0x40}}};
  const Bytes expected = datagram({0x03, 0x90, 0x3c, 0x40});
  CHECK(encode_midi_packet(header, commands) == expected);

  const DecodedRtp decoded = decode_midi_packet(expected);
  REQUIRE(decoded);
  CHECK(decoded.packet->header == header);
  CHECK(decoded.packet->commands == commands);
  CHECK_FALSE(decoded.packet->has_journal);
  CHECK_FALSE(decoded.packet->phantom);
}

TEST_CASE("the marker bit and payload type round-trip") {
  const RtpHeader header{65535, 0xffffffff, 1, 0x60, true};
  const std::vector<MidiCommand> commands = {{0, {0xc0, 5}}};
  const DecodedRtp decoded = decode_midi_packet(encode_midi_packet(header, commands));
  REQUIRE(decoded);
  CHECK(decoded.packet->header == header);
}

TEST_CASE("delta times of one to four bytes round-trip") {
  const std::uint32_t deltas[] = {1, 127, 128, 16383, 16384, 2097151, 2097152, 0x0fffffff};
  const std::size_t lengths[] = {1, 1, 2, 2, 3, 3, 4, 4};
  for (std::size_t i = 0; i < std::size(deltas); ++i) {
    const std::vector<MidiCommand> commands = {{deltas[i], {0x90, 1, 2}},
                                               {deltas[i], {0x80, 1, 0}}};
    CHECK(encoded_size(commands[0], true) == lengths[i] + 3);
    CHECK(encoded_size(commands[1], false) == lengths[i] + 3);
    const Bytes bytes = encode_midi_packet({}, commands);
    CHECK(bytes[12] == (0x20 | (2 * (lengths[i] + 3)))); // Z set, 4-bit LEN
    CHECK(commands_of(bytes) == commands);
  }
}

TEST_CASE("a delta time over 28 bits is clamped, not wrapped") {
  const std::vector<MidiCommand> commands = {{0, {0xf8}}, {0xffffffff, {0xf8}}};
  const auto decoded = commands_of(encode_midi_packet({}, commands));
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[1].delta == 0x0fffffff);
}

TEST_CASE("the first command's zero delta is left out; later ones are written") {
  const std::vector<MidiCommand> commands = {{0, {0x90, 0x3c, 0x40}}, {0, {0x90, 0x3e, 0x40}}};
  CHECK(encode_midi_packet(header_fields, commands) ==
        datagram({0x07, 0x90, 0x3c, 0x40, 0x00, 0x90, 0x3e, 0x40}));
  CHECK(encoded_size(commands[0], true) == 3);
  CHECK(encoded_size(commands[0], false) == 4);
}

TEST_CASE("a lone one-byte command carries a zero delta (node-rtpmidi drops LEN 1)") {
  const std::vector<MidiCommand> clock = {{0, {0xf8}}};
  CHECK(encode_midi_packet(header_fields, clock) == datagram({0x22, 0x00, 0xf8}));
  CHECK(encoded_size(clock[0], true) == 2);
  CHECK(commands_of(encode_midi_packet({}, clock)) == clock);
}

TEST_CASE("B is set exactly when the section is over 15 bytes") {
  std::vector<MidiCommand> commands = {{0, {0x90, 1, 1}}};
  while (section_size(commands) <= 15)
    commands.push_back({3, {0x90, 1, 1}});
  // 3 + 4 * 3 = 15 fits the 4-bit LEN; the fifth note takes it to 19.
  REQUIRE(commands.size() == 5);
  const Bytes small = encode_midi_packet({}, std::span(commands.data(), 4));
  CHECK(small[12] == 15);
  CHECK(small.size() == 12 + 1 + 15);
  const Bytes big = encode_midi_packet({}, commands);
  CHECK(big[12] == 0x80);
  CHECK(big[13] == 19);
  CHECK(big.size() == 12 + 2 + 19);
  CHECK(commands_of(big) == commands);
}

TEST_CASE("the largest section encodes; a larger one is refused") {
  std::vector<MidiCommand> commands = {{0, sysex_of_size(max_command_section)}};
  const Bytes bytes = encode_midi_packet({}, commands);
  CHECK(bytes[12] == 0x8f);
  CHECK(bytes[13] == 0xff);
  CHECK(commands_of(bytes) == commands);
  commands.push_back({0, {0xf8}});
  CHECK_THROWS_AS(encode_midi_packet({}, commands), std::length_error);
}

TEST_CASE("encoded_size agrees with encode for random command lists") {
  std::mt19937 random(4695);
  for (int round = 0; round < 500; ++round) {
    std::vector<MidiCommand> commands(random() % 20);
    for (auto& command : commands) {
      const std::uint32_t scale[] = {0, 0x7f, 0x3fff, 0x1fffff, 0x0fffffff};
      command.delta = static_cast<std::uint32_t>(random()) % (scale[random() % 5] + 1);
      switch (random() % 4) {
      case 0:
        command.bytes = {static_cast<std::uint8_t>(0x80 | (random() % 0x70)),
                         static_cast<std::uint8_t>(random() % 128),
                         static_cast<std::uint8_t>(random() % 128)};
        if ((command.bytes[0] & 0xe0) == 0xc0) command.bytes.pop_back();
        break;
      case 1:
        command.bytes = {static_cast<std::uint8_t>(0xf8 + random() % 8)};
        break;
      case 2:
        command.bytes = sysex_of_size(2 + random() % 100);
        break;
      default:
        command.bytes = {0xf2, static_cast<std::uint8_t>(random() % 128), 0};
      }
    }
    const Bytes journal(random() % 3 == 0 ? 7 : 0, 0x55);
    const Bytes bytes = encode_midi_packet({}, commands, journal);
    const std::size_t section = section_size(commands);
    CHECK(bytes.size() == 12 + (section > 15 ? 2 : 1) + section + journal.size());
    const DecodedRtp decoded = decode_midi_packet(bytes);
    REQUIRE(decoded);
    CHECK(decoded.packet->commands == commands);
    CHECK(decoded.packet->has_journal == !journal.empty());
    CHECK(Bytes(decoded.packet->journal.begin(), decoded.packet->journal.end()) == journal);
  }
}

TEST_CASE("the journal is everything after the command section when J is set") {
  const Bytes journal = {0x20, 0x00, 0x05, 0x01, 0x02};
  const std::vector<MidiCommand> commands = {{0, {0xb0, 7, 100}}};
  const Bytes bytes = encode_midi_packet({}, commands, journal);
  CHECK(bytes[12] == (0x40 | 3));
  const DecodedRtp decoded = decode_midi_packet(bytes);
  REQUIRE(decoded);
  CHECK(decoded.packet->has_journal);
  CHECK(Bytes(decoded.packet->journal.begin(), decoded.packet->journal.end()) == journal);

  // An empty command section with a journal: what a sender sends to keep the journal going.
  const DecodedRtp only_journal = decode_midi_packet(datagram({0x40, 0x20, 0x00, 0x05}));
  REQUIRE(only_journal);
  CHECK(only_journal.packet->commands.empty());
  CHECK(only_journal.packet->journal.size() == 3);
}

TEST_CASE("bytes after the command section without J are not a journal") {
  const DecodedRtp decoded = decode_midi_packet(datagram({0x02, 0xc0, 0x05, 0x99}));
  REQUIRE(decoded);
  CHECK_FALSE(decoded.packet->has_journal);
  CHECK(decoded.packet->journal.empty());
  CHECK(decoded.packet->commands == std::vector<MidiCommand>{{0, {0xc0, 0x05}}});
}

TEST_CASE("CSRC list, header extension and padding are skipped") {
  Bytes bytes = rtp_header;
  bytes[0] = 0x80 | 0x20 | 0x10 | 2;                   // padding, extension, two CSRC
  bytes.insert(bytes.end(), {1, 1, 1, 1, 2, 2, 2, 2}); // CSRC
  bytes.insert(bytes.end(), {0xbe, 0xde, 0x00, 0x02}); // extension, two words
  bytes.insert(bytes.end(), {0x90, 0x90, 0x90, 0x90, 0xf0, 0xf0, 0xf0, 0xf0});
  bytes.insert(bytes.end(), {0x03, 0x90, 0x3c, 0x40}); // command section
  bytes.insert(bytes.end(), {0x90, 0x90, 0x03});       // three bytes of padding
  const DecodedRtp decoded = decode_midi_packet(bytes);
  REQUIRE(decoded);
  CHECK(decoded.packet->header.ssrc == 0xaabbccdd);
  CHECK(decoded.packet->commands == std::vector<MidiCommand>{{0, {0x90, 0x3c, 0x40}}});

  SECTION("padding over the payload is truncated") {
    bytes.back() = 60;
    CHECK(error_of(bytes) == RtpError::truncated);
  }
  SECTION("zero padding is truncated") {
    bytes.back() = 0;
    CHECK(error_of(bytes) == RtpError::truncated);
  }
  SECTION("an extension longer than the datagram is truncated") {
    bytes[22] = 0x40;
    CHECK(error_of(bytes) == RtpError::truncated);
  }
  SECTION("a CSRC list longer than the datagram is truncated") {
    bytes[0] = 0x8f;
    bytes.resize(40);
    CHECK(error_of(bytes) == RtpError::truncated);
  }
}

TEST_CASE("an RTP version other than 2 is not RTP-MIDI") {
  Bytes bytes = with_section({0x90, 0x3c, 0x40});
  bytes[0] = 0x40;
  CHECK(error_of(bytes) == RtpError::not_rtp_midi);
  bytes[0] = 0xc0;
  CHECK(error_of(bytes) == RtpError::not_rtp_midi);
}

TEST_CASE("short packets and overlong LEN are truncated") {
  CHECK(error_of(Bytes(rtp_header.begin(), rtp_header.end() - 1)) == RtpError::truncated);
  CHECK(error_of(rtp_header) == RtpError::truncated);       // no command section header
  CHECK(error_of(datagram({0x80})) == RtpError::truncated); // B without its second byte
  CHECK(error_of(datagram({0x04, 0x90, 0x3c, 0x40})) == RtpError::truncated);
  CHECK(error_of(datagram({0x81, 0x00, 0x90})) == RtpError::truncated);
}

TEST_CASE("an empty command section decodes to no commands") {
  CHECK(commands_of(datagram({0x00})).empty());
}

TEST_CASE("running status is expanded") {
  const auto commands =
      commands_of(with_section({0x90, 0x3c, 0x40, 0x00, 0x3e, 0x40, 0x05, 0x3c, 0x00}));
  CHECK(commands == std::vector<MidiCommand>{
                        {0, {0x90, 0x3c, 0x40}}, {0, {0x90, 0x3e, 0x40}}, {5, {0x90, 0x3c, 0}}});
}

TEST_CASE("real-time messages keep running status") {
  const auto commands =
      commands_of(with_section({0xc1, 0x05, 0x00, 0xf8, 0x00, 0x06, 0x01, 0xfe, 0x02, 0x07}));
  CHECK(commands ==
        std::vector<MidiCommand>{
            {0, {0xc1, 0x05}}, {0, {0xf8}}, {0, {0xc1, 0x06}}, {1, {0xfe}}, {2, {0xc1, 0x07}}});
}

TEST_CASE("system common messages cancel running status") {
  CHECK(error_of(with_section({0x90, 0x3c, 0x40, 0x00, 0xf3, 0x01, 0x00, 0x3e, 0x40})) ==
        RtpError::malformed_command);
  CHECK(error_of(with_section({0x90, 0x3c, 0x40, 0x00, 0xf6, 0x00, 0x3e, 0x40})) ==
        RtpError::malformed_command);
  CHECK(error_of(with_section({0x90, 0x3c, 0x40, 0x00, 0xf0, 0x01, 0xf7, 0x00, 0x3e, 0x40})) ==
        RtpError::malformed_command);
}

TEST_CASE("one-, two- and three-byte messages have their lengths") {
  // Undefined F4, F5, F9 and FD count as one byte, as on a MIDI cable.
  const Bytes section = {0xf8, 0x00, 0xfe, 0x00, 0xf4, 0x00, 0xf5, 0x00, 0xf9, 0x00, 0xfd, 0x00,
                         0xf6, 0x00, 0xc3, 0x10, 0x00, 0xd3, 0x20, 0x00, 0xf3, 0x02, 0x00, 0xf1,
                         0x33, 0x00, 0xf2, 0x01, 0x02, 0x00, 0xe0, 0x00, 0x40, 0x00, 0xff};
  Bytes payload{0x80, static_cast<std::uint8_t>(section.size())};
  payload.insert(payload.end(), section.begin(), section.end());
  const auto commands = commands_of(datagram(payload));
  const std::vector<MidiCommand> expected = {{0, {0xf8}},
                                             {0, {0xfe}},
                                             {0, {0xf4}},
                                             {0, {0xf5}},
                                             {0, {0xf9}},
                                             {0, {0xfd}},
                                             {0, {0xf6}},
                                             {0, {0xc3, 0x10}},
                                             {0, {0xd3, 0x20}},
                                             {0, {0xf3, 0x02}},
                                             {0, {0xf1, 0x33}},
                                             {0, {0xf2, 0x01, 0x02}},
                                             {0, {0xe0, 0x00, 0x40}},
                                             {0, {0xff}}};
  CHECK(commands == expected);
}

TEST_CASE("SysEx commands and segments decode with their terminators") {
  const auto whole = commands_of(with_section({0xf0, 0x7e, 0x01, 0xf7}));
  CHECK(whole == std::vector<MidiCommand>{{0, {0xf0, 0x7e, 0x01, 0xf7}}});
  const auto first = commands_of(with_section({0xf0, 0x01, 0x02, 0xf0}));
  CHECK(first == std::vector<MidiCommand>{{0, {0xf0, 0x01, 0x02, 0xf0}}});
  const auto middle = commands_of(with_section({0xf7, 0x03, 0xf0}));
  CHECK(middle == std::vector<MidiCommand>{{0, {0xf7, 0x03, 0xf0}}});
  const auto last = commands_of(with_section({0xf7, 0x04, 0xf7}));
  CHECK(last == std::vector<MidiCommand>{{0, {0xf7, 0x04, 0xf7}}});
  const auto cancel = commands_of(with_section({0xf7, 0xf4}));
  CHECK(cancel == std::vector<MidiCommand>{{0, {0xf7, 0xf4}}});
  const auto two = commands_of(with_section({0xf0, 0x01, 0xf0, 0x00, 0xf7, 0x02, 0xf7}));
  CHECK(two == std::vector<MidiCommand>{{0, {0xf0, 0x01, 0xf0}}, {0, {0xf7, 0x02, 0xf7}}});
}

TEST_CASE("real-time bytes inside a SysEx come out ahead of it") {
  const auto commands =
      commands_of(with_section({0x90, 0x3c, 0x40, 0x07, 0xf0, 0x01, 0xf8, 0x02, 0xfe, 0x03, 0xf7}));
  CHECK(commands == std::vector<MidiCommand>{{0, {0x90, 0x3c, 0x40}},
                                             {7, {0xf8}},
                                             {0, {0xfe}},
                                             {0, {0xf0, 0x01, 0x02, 0x03, 0xf7}}});
}

TEST_CASE("malformed command sections are refused") {
  const Bytes cases[] = {
      {0x3c, 0x40},             // data byte without status or running status
      {0x90, 0x3c},             // note-on missing a data byte
      {0x90, 0x3c, 0x40, 0x00}, // a delta with no command after it
      {0x90, 0x3c, 0x40, 0x81}, // a delta cut short by the end of the section
      {0x90, 0x3c, 0x40, 0x81, 0x82, 0x83, 0x84, 0x05, 0xf8}, // a five-byte delta
      {0x90, 0x3c, 0xc0},                                     // a status where a data byte belongs
      {0xf0, 0x01, 0x02},                                     // an unterminated SysEx
      {0xf0, 0x01, 0x90, 0x02, 0xf7},                         // a channel status inside a SysEx
      {0xf0, 0x01, 0xf2, 0xf7}, // a system common status inside a SysEx
      {0xf7, 0x01, 0xf5, 0xf7}, // an undefined status inside a SysEx
  };
  for (const Bytes& section : cases) {
    CAPTURE(section);
    CHECK(error_of(with_section(section)) == RtpError::malformed_command);
  }
  // Z set, section of only a delta that needs one more byte.
  CHECK(error_of(with_section({0x81}, 0x20)) == RtpError::malformed_command);
}

TEST_CASE("a note that runs past LEN into the journal is malformed") {
  // LEN says 2, the journal would supply the third byte: the section alone decides.
  CHECK(error_of(datagram({0x42, 0x90, 0x3c, 0x40, 0x00, 0x00})) == RtpError::malformed_command);
}

TEST_CASE("with P the first command may run on the last packet's status") {
  const Bytes bytes = with_section({0x3c, 0x00, 0x00, 0x3e, 0x00}, 0x10);
  const DecodedRtp decoded = decode_midi_packet(bytes, 0x91);
  REQUIRE(decoded);
  CHECK(decoded.packet->phantom);
  CHECK(decoded.packet->commands ==
        std::vector<MidiCommand>{{0, {0x91, 0x3c, 0x00}}, {0, {0x91, 0x3e, 0x00}}});
  // Without P, or without a status to run on, a leading data byte has no status.
  CHECK(error_of(with_section({0x3c, 0x00}), 0x91) == RtpError::malformed_command);
  CHECK(error_of(bytes, 0) == RtpError::malformed_command);
  CHECK(error_of(bytes, 0xf2) == RtpError::malformed_command);
}

// node-rtpmidi's MidiMessage.generateBuffer writes each delta time one byte late, so the command
// overwrites it and a zero byte stands in its place; and its Session hands it NaN delta times
// (it sorts and subtracts a field it never sets), which sets Z. The bytes below are what it
// produced, run under node.
TEST_CASE("node-rtpmidi's packet: note-on, CC and a 2,048-byte SysEx") {
  const Bytes sysex = sysex_of_size(2048);
  Bytes payload = {0xa8, 0x09, 0x00, 0x90, 0x3c, 0x40, 0x00, 0xb0, 0x07, 0x64, 0x00};
  payload.insert(payload.end(), sysex.begin(), sysex.end());
  const Bytes bytes = datagram(payload);
  REQUIRE(bytes.size() == 2071);
  const DecodedRtp decoded = decode_midi_packet(bytes);
  REQUIRE(decoded);
  CHECK(decoded.packet->header == header_fields);
  CHECK(decoded.packet->commands ==
        std::vector<MidiCommand>{{0, {0x90, 0x3c, 0x40}}, {0, {0xb0, 0x07, 0x64}}, {0, sysex}});
}

TEST_CASE("node-rtpmidi's packet with running status") {
  // It leaves out a status equal to the previous command's, real-time included.
  const Bytes bytes = datagram({0xa0, 0x11, 0x00, 0x90, 0x3c, 0x40, 0x00, 0x3e, 0x40, 0x00, 0x80,
                                0x3c, 0x00, 0x00, 0xf8, 0x00, 0x80, 0x3e, 0x00});
  CHECK(commands_of(bytes) == std::vector<MidiCommand>{{0, {0x90, 0x3c, 0x40}},
                                                       {0, {0x90, 0x3e, 0x40}},
                                                       {0, {0x80, 0x3c, 0x00}},
                                                       {0, {0xf8}},
                                                       {0, {0x80, 0x3e, 0x00}}});
}

TEST_CASE("node-rtpmidi's delta times of 127 and more are refused, not misread") {
  // Deltas 0, 127 and 0x7f7f: the late write leaves a 0x80 where a data byte belongs.
  CHECK(error_of(with_section({0xf8, 0x00, 0x80, 0xfe, 0x00, 0x81, 0xfe, 0xf8})) ==
        RtpError::malformed_command);
}

TEST_CASE("node-rtpmidi's repeated SysEx and system common without their status") {
  // generateBuffer leaves out any repeated status, even F0 and F2; nothing else could be meant.
  const auto sysex = commands_of(with_section({0xf0, 0x01, 0xf7, 0x00, 0x02, 0xf7}));
  CHECK(sysex == std::vector<MidiCommand>{{0, {0xf0, 0x01, 0xf7}}, {0, {0xf0, 0x02, 0xf7}}});
  const auto song = commands_of(with_section({0xf2, 0x01, 0x02, 0x00, 0x03, 0x04}));
  CHECK(song == std::vector<MidiCommand>{{0, {0xf2, 0x01, 0x02}}, {0, {0xf2, 0x03, 0x04}}});
  // A SysEx segment is not repeated that way.
  CHECK(error_of(with_section({0xf0, 0x01, 0xf0, 0x00, 0x02, 0xf7})) ==
        RtpError::malformed_command);
}

TEST_CASE("delta times that are not the shortest form decode") {
  const auto commands = commands_of(with_section({0xf8, 0x80, 0x7f, 0xfe, 0x80, 0x80, 0x01, 0xf8}));
  CHECK(commands == std::vector<MidiCommand>{{0, {0xf8}}, {127, {0xfe}}, {1, {0xf8}}});
}

TEST_CASE("every RTP-MIDI error has a description") {
  for (RtpError e : {RtpError::truncated, RtpError::not_rtp_midi, RtpError::malformed_command})
    CHECK_FALSE(describe(e).empty());
}

TEST_CASE("every prefix, every mutation and random bytes decode without harm") {
  const std::vector<MidiCommand> commands = {
      {0, {0x90, 0x3c, 0x40}},        {200, {0xb0, 0x07, 0x64}}, {0, {0xf8}},
      {70000, {0xf0, 1, 2, 3, 0xf0}}, {1, {0xf7, 4, 0xf7}},      {3000000, {0xc0, 1}}};
  const Bytes journal = {0x20, 0x01, 0x02, 0x03};
  const Bytes valid = encode_midi_packet({}, commands, journal);
  REQUIRE(decode_midi_packet(valid));
  // A prefix that cuts the command section fails; one that cuts only the journal is left to
  // the journal's decoder.
  const std::size_t section_end = 12 + 2 + section_size(commands);
  for (std::size_t n = 0; n < valid.size(); ++n) {
    CAPTURE(n);
    CHECK(static_cast<bool>(decode_midi_packet(std::span(valid.data(), n))) == (n >= section_end));
  }
  std::mt19937 random(6295);
  for (int i = 0; i < 10000; ++i) {
    Bytes mutated = valid;
    for (int k = 0; k < 3; ++k)
      mutated[12 + random() % (mutated.size() - 12)] = static_cast<std::uint8_t>(random());
    (void)decode_midi_packet(mutated, static_cast<std::uint8_t>(random()));
  }
  std::size_t decoded = 0;
  for (int i = 0; i < 10000; ++i) {
    Bytes bytes(random() % 64);
    for (auto& b : bytes)
      b = static_cast<std::uint8_t>(random());
    if (bytes.size() > 12 && i % 2 == 0)
      bytes[0] = static_cast<std::uint8_t>(0x80 | (bytes[0] & 0x3f));
    if (decode_midi_packet(bytes, static_cast<std::uint8_t>(random()))) ++decoded;
  }
  CHECK(decoded > 0);
}
