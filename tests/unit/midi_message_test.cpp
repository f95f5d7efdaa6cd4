#include "midi/midi_message.hpp"
#include "midi_samples.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

using midimesh::midi::expected_length;
using midimesh::midi::is_complete_message;
using Bytes = std::vector<std::uint8_t>;

TEST_CASE("expected_length of every status byte") {
  SECTION("data bytes are not statuses") {
    for (unsigned b = 0; b < 0x80; ++b)
      CHECK(expected_length(static_cast<std::uint8_t>(b)) == 0);
  }
  SECTION("channel messages on every channel") {
    for (std::uint8_t channel = 0; channel < 16; ++channel) {
      CHECK(expected_length(0x80 | channel) == 3); // note off
      CHECK(expected_length(0x90 | channel) == 3); // note on
      CHECK(expected_length(0xA0 | channel) == 3); // poly pressure
      CHECK(expected_length(0xB0 | channel) == 3); // control change
      CHECK(expected_length(0xC0 | channel) == 2); // program change
      CHECK(expected_length(0xD0 | channel) == 2); // channel pressure
      CHECK(expected_length(0xE0 | channel) == 3); // pitch bend
    }
  }
  SECTION("system messages") {
    CHECK(expected_length(0xF0) == 0); // SysEx: any length
    CHECK(expected_length(0xF1) == 2); // MTC quarter frame
    CHECK(expected_length(0xF2) == 3); // song position
    CHECK(expected_length(0xF3) == 2); // song select
    for (std::uint8_t one_byte :
         {0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF})
      CHECK(expected_length(one_byte) == 1);
  }
}

TEST_CASE("complete messages of every kind are accepted") {
  for (const auto& message : midimesh::test::every_midi_kind) {
    INFO("status " << int{message[0]});
    CHECK(is_complete_message(message));
  }
}

TEST_CASE("a large SysEx is complete") {
  Bytes sysex(16379);
  for (std::size_t i = 0; i < sysex.size(); ++i)
    sysex[i] = static_cast<std::uint8_t>((i * 7 + 3) & 0x7F);
  sysex.front() = 0xF0;
  sysex.back() = 0xF7;
  CHECK(is_complete_message(sysex));
}

TEST_CASE("incomplete or malformed messages are rejected") {
  CHECK_FALSE(is_complete_message(Bytes{}));
  SECTION("running status: no status byte") {
    CHECK_FALSE(is_complete_message(Bytes{0x3C, 0x64}));
  }
  SECTION("too short or too long") {
    CHECK_FALSE(is_complete_message(Bytes{0x90, 0x3C}));
    CHECK_FALSE(is_complete_message(Bytes{0x90, 0x3C, 0x64, 0x00}));
    CHECK_FALSE(is_complete_message(Bytes{0xC0}));
    CHECK_FALSE(is_complete_message(Bytes{0xC0, 0x01, 0x02}));
    CHECK_FALSE(is_complete_message(Bytes{0xF8, 0x00}));
    CHECK_FALSE(is_complete_message(Bytes{0xF2, 0x00}));
  }
  SECTION("a status byte where data belongs") {
    CHECK_FALSE(is_complete_message(Bytes{0x90, 0x3C, 0x80}));
    CHECK_FALSE(is_complete_message(Bytes{0xE0, 0xF8, 0x40}));
    CHECK_FALSE(is_complete_message(Bytes{0xF1, 0x90}));
  }
  SECTION("SysEx without its end, or with a status inside") {
    CHECK_FALSE(is_complete_message(Bytes{0xF0}));
    CHECK_FALSE(is_complete_message(Bytes{0xF0, 0x7E, 0x7F}));
    CHECK_FALSE(is_complete_message(Bytes{0xF0, 0x7E, 0x90, 0xF7}));
    CHECK_FALSE(is_complete_message(Bytes{0xF0, 0x7E, 0xF8, 0xF7}));
    CHECK_FALSE(is_complete_message(Bytes{0xF0, 0xF7, 0xF7}));
    CHECK_FALSE(is_complete_message(Bytes{0xF7})); // an end of SysEx with no start
  }
}
