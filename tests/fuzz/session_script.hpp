#pragma once
// The script fuzz_rtp_session reads, shared with the corpus generator (make_corpus.cpp) so that
// its seeds replay exactly: the session's configuration and the remote hosts' addresses.
//
// Script, one operation after another:
//   op & 7 == 0, 1  a datagram on the control (0) or data (1) port from host (op >> 3) & 3,
//                   then a length byte, then that many bytes
//   op & 7 == 2     time passes: the next byte in milliseconds times (op >> 3) + 1; tick()
//   op & 7 == 3     send(): a length byte, then a MIDI message (sent only when complete); flush()
//   op & 7 == 4     invite host (op >> 3) & 3, attempts (op >> 5)
//   op & 7 == 5     leave() (only when op >> 3 is 31: rare)
//   otherwise       tick() at the same time

#include "rtpmidi/session.hpp"

#include <cstdint>
#include <string>

namespace midimesh::fuzz {

inline constexpr std::uint16_t control_port = 5004;
inline constexpr std::uint64_t start_us = 1'000'000;

inline rtpmidi::SessionConfig session_config() {
  rtpmidi::SessionConfig config;
  config.name = "fuzz";
  config.ssrc = 0x12345678;
  config.max_participants = 3;
  config.max_packet_midi = 100; // SysEx in segments without kilobytes of input
  return config;
}

inline rtpmidi::Endpoint host(unsigned index, rtpmidi::Port port) {
  return {
      "10.0.0." + std::to_string(index + 1),
      static_cast<std::uint16_t>(port == rtpmidi::Port::control ? control_port : control_port + 1)};
}

} // namespace midimesh::fuzz
