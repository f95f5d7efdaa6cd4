#pragma once
// What a complete MIDI 1.0 message looks like. Pure code, used to check what arrives from the
// wire before it is handed to a MIDI backend.

#include <cstddef>
#include <cstdint>
#include <span>

namespace midimesh::midi {

// Bytes a message with this status byte has, or 0 when the length is not fixed (SysEx).
// Undefined system statuses (0xF4, 0xF5, 0xF9, 0xFD) count as one byte so they pass untouched.
std::size_t expected_length(std::uint8_t status) noexcept;

// A single complete message: a status byte, the data bytes it needs (all below 0x80), and for
// SysEx a closing 0xF7. No running status: every backend hands over whole messages.
bool is_complete_message(std::span<const std::uint8_t> bytes) noexcept;

} // namespace midimesh::midi
