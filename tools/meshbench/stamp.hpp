#pragma once
// The MIDI message meshbench plays through real nodes: a 19-byte SysEx with the non-commercial
// id, F0 7D kind source seq(4 x 7 bits) time_us(10 x 7 bits) F7. Any node plays it unchanged,
// and it carries what a receiver needs to count it and time it.

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace meshbench {

struct Stamp {
  // What it is for, so that scenarios sharing a node tell theirs apart.
  enum Kind : std::uint8_t { probe = 1, measured = 2, stream = 3 };
  std::uint8_t kind = measured;
  std::uint8_t source = 0; // the sending node or stream, 0..127
  std::uint64_t seq = 0;   // 28 bits
  std::uint64_t time_us = 0;
};

inline constexpr std::size_t stamp_size = 19;

std::array<std::uint8_t, stamp_size> encode_stamp(const Stamp& stamp) noexcept;
// nullopt for anything else (e.g. the note-offs a node plays when its hub changes).
std::optional<Stamp> decode_stamp(std::span<const std::uint8_t> message) noexcept;

} // namespace meshbench
