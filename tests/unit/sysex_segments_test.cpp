#include "rtpmidi/rtp_midi_packet.hpp"
#include "rtpmidi/sysex_segments.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <vector>

using namespace midimesh::rtpmidi;
using Bytes = std::vector<std::uint8_t>;
using Outcome = SysexAssembler::Outcome;

namespace {

Bytes sysex_of_size(std::size_t size) {
  Bytes sysex(size, 0);
  sysex.front() = 0xf0;
  for (std::size_t i = 1; i + 1 < size; ++i)
    sysex[i] = static_cast<std::uint8_t>(i * 7 % 128);
  sysex.back() = 0xf7;
  return sysex;
}

} // namespace

TEST_CASE("a SysEx that fits is one segment, whole") {
  const Bytes sysex = sysex_of_size(10);
  CHECK(split_sysex(sysex, 10) == std::vector<Bytes>{sysex});
  CHECK(split_sysex(sysex, 4095) == std::vector<Bytes>{sysex});
}

TEST_CASE("a SysEx one byte too big is two segments") {
  const Bytes sysex = {0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 0xf7};
  CHECK(split_sysex(sysex, 9) ==
        std::vector<Bytes>{{0xf0, 1, 2, 3, 4, 5, 6, 7, 0xf0}, {0xf7, 8, 0xf7}});
}

TEST_CASE("segments are first F0..F0, middles F7..F0, last F7..F7") {
  const Bytes sysex = {0xf0, 1, 2, 3, 4, 5, 0xf7};
  CHECK(split_sysex(sysex, 4) ==
        std::vector<Bytes>{{0xf0, 1, 2, 0xf0}, {0xf7, 3, 4, 0xf0}, {0xf7, 5, 0xf7}});
  CHECK(split_sysex(sysex, 3) ==
        std::vector<Bytes>{
            {0xf0, 1, 0xf0}, {0xf7, 2, 0xf0}, {0xf7, 3, 0xf0}, {0xf7, 4, 0xf0}, {0xf7, 5, 0xf7}});
  // A max_segment below 3 could carry no data: it is taken as 3.
  CHECK(split_sysex(sysex, 1) == split_sysex(sysex, 3));
}

TEST_CASE("what is not a whole SysEx is not split") {
  const Bytes segment = {0xf0, 1, 2, 3, 4, 5, 6, 0xf0};
  CHECK(split_sysex(segment, 3) == std::vector<Bytes>{segment});
}

TEST_CASE("split and reassembly round-trip for every size from 3 to 5000") {
  for (std::size_t max_segment : {3, 4, 7, 64, 1000, 4095}) {
    const std::size_t step = max_segment < 64 ? 13 : 1;
    for (std::size_t size = 3; size <= 5000; size += step) {
      const Bytes sysex = sysex_of_size(size);
      const auto segments = split_sysex(sysex, max_segment);
      SysexAssembler assembler;
      bool shapes_ok = true;
      for (std::size_t i = 0; i < segments.size(); ++i) {
        const Bytes& s = segments[i];
        const bool last = i + 1 == segments.size();
        shapes_ok = shapes_ok && s.size() <= max_segment && s.size() >= 2 &&
                    s.front() == (i == 0 ? 0xf0 : (segments.size() == 1 ? 0xf0 : 0xf7)) &&
                    s.back() == (last ? 0xf7 : 0xf0);
        const auto result = assembler.take(s);
        if (!last) {
          shapes_ok = shapes_ok && result.outcome == Outcome::incomplete;
        } else if (result.outcome != Outcome::complete || result.message != sysex) {
          FAIL("size " << size << ", max_segment " << max_segment << ": not reassembled");
        }
      }
      if (!shapes_ok) FAIL("size " << size << ", max_segment " << max_segment << ": bad segment");
      CHECK_FALSE(assembler.in_progress());
    }
  }
}

TEST_CASE("segments survive RTP-MIDI packets one by one") {
  const Bytes sysex = sysex_of_size(10000);
  SysexAssembler assembler;
  std::optional<Bytes> message;
  for (const Bytes& segment : split_sysex(sysex, max_command_section)) {
    const std::vector<MidiCommand> commands = {{0, segment}};
    const DecodedRtp decoded = decode_midi_packet(encode_midi_packet({}, commands));
    REQUIRE(decoded);
    REQUIRE(decoded.packet->commands.size() == 1);
    auto result = assembler.take(decoded.packet->commands[0].bytes);
    if (result.outcome == Outcome::complete) message = std::move(result.message);
  }
  CHECK(message == sysex);
}

TEST_CASE("a whole SysEx completes at once") {
  SysexAssembler assembler;
  const Bytes sysex = {0xf0, 0x7e, 0x7f, 0x06, 0x01, 0xf7};
  const auto result = assembler.take(sysex);
  CHECK(result.outcome == Outcome::complete);
  CHECK(result.message == sysex);
  CHECK_FALSE(assembler.in_progress());
}

TEST_CASE("a middle or an end without a start is dropped") {
  SysexAssembler assembler;
  CHECK(assembler.take(Bytes{0xf7, 1, 0xf0}).outcome == Outcome::dropped);
  CHECK(assembler.take(Bytes{0xf7, 2, 0xf7}).outcome == Outcome::dropped);
  CHECK(assembler.take(Bytes{0xf7, 0xf4}).outcome == Outcome::dropped);
  CHECK_FALSE(assembler.in_progress());
  // The next start works.
  CHECK(assembler.take(Bytes{0xf0, 3, 0xf0}).outcome == Outcome::incomplete);
  const auto result = assembler.take(Bytes{0xf7, 4, 0xf7});
  CHECK(result.outcome == Outcome::complete);
  CHECK(result.message == Bytes{0xf0, 3, 4, 0xf7});
}

TEST_CASE("what is not a SysEx command is dropped and ends the one under way") {
  SysexAssembler assembler;
  REQUIRE(assembler.take(Bytes{0xf0, 1, 0xf0}).outcome == Outcome::incomplete);
  CHECK(assembler.take(Bytes{0x90, 1, 2}).outcome == Outcome::dropped);
  CHECK_FALSE(assembler.in_progress());
  CHECK(assembler.take(Bytes{}).outcome == Outcome::dropped);
  CHECK(assembler.take(Bytes{0xf0}).outcome == Outcome::dropped);
  CHECK(assembler.take(Bytes{0xf0, 1, 2}).outcome == Outcome::dropped);
}

TEST_CASE("a SysEx over max_size is dropped up to the next start") {
  SysexAssembler assembler(8);
  CHECK(assembler.take(Bytes{0xf0, 1, 2, 3, 4, 5, 6, 0xf7}).outcome == Outcome::complete);
  CHECK(assembler.take(Bytes{0xf0, 1, 2, 3, 4, 5, 6, 7, 0xf7}).outcome == Outcome::dropped);

  CHECK(assembler.take(Bytes{0xf0, 1, 2, 3, 0xf0}).outcome == Outcome::incomplete);
  CHECK(assembler.take(Bytes{0xf7, 4, 5, 6, 0xf0}).outcome == Outcome::incomplete); // 7 + F7
  CHECK(assembler.take(Bytes{0xf7, 7, 0xf0}).outcome == Outcome::dropped);
  CHECK_FALSE(assembler.in_progress());
  CHECK(assembler.take(Bytes{0xf7, 8, 0xf0}).outcome == Outcome::dropped);
  CHECK(assembler.take(Bytes{0xf7, 9, 0xf7}).outcome == Outcome::dropped);

  CHECK(assembler.take(Bytes{0xf0, 1, 2, 3, 0xf0}).outcome == Outcome::incomplete);
  const auto result = assembler.take(Bytes{0xf7, 4, 5, 6, 0xf7});
  CHECK(result.outcome == Outcome::complete);
  CHECK(result.message.size() == 8);
}

TEST_CASE("the sender cancels a SysEx under way with F7 F4") {
  SysexAssembler assembler;
  REQUIRE(assembler.take(Bytes{0xf0, 1, 0xf0}).outcome == Outcome::incomplete);
  REQUIRE(assembler.take(Bytes{0xf7, 2, 0xf0}).outcome == Outcome::incomplete);
  CHECK(assembler.take(Bytes{0xf7, 3, 0xf4}).outcome == Outcome::cancelled);
  CHECK_FALSE(assembler.in_progress());
  CHECK(assembler.take(Bytes{0xf7, 4, 0xf7}).outcome == Outcome::dropped);
}

TEST_CASE("a new start abandons the SysEx under way") {
  SysexAssembler assembler;
  REQUIRE(assembler.take(Bytes{0xf0, 1, 0xf0}).outcome == Outcome::incomplete);
  const auto result = assembler.take(Bytes{0xf0, 9, 0xf7});
  CHECK(result.outcome == Outcome::complete);
  CHECK(result.message == Bytes{0xf0, 9, 0xf7});
  CHECK_FALSE(assembler.in_progress());
}

TEST_CASE("interrupt throws away a SysEx under way") {
  SysexAssembler assembler;
  CHECK_FALSE(assembler.interrupt());
  REQUIRE(assembler.take(Bytes{0xf0, 1, 0xf0}).outcome == Outcome::incomplete);
  CHECK(assembler.in_progress());
  CHECK(assembler.interrupt());
  CHECK_FALSE(assembler.in_progress());
  CHECK_FALSE(assembler.interrupt());
  CHECK(assembler.take(Bytes{0xf7, 2, 0xf7}).outcome == Outcome::dropped);
}
