#include "midi/midi_message.hpp"

namespace midimesh::midi {

std::size_t expected_length(std::uint8_t status) noexcept {
  if (status < 0x80) return 0;
  if (status < 0xF0) {
    const std::uint8_t kind = status & 0xF0;
    return (kind == 0xC0 || kind == 0xD0) ? 2 : 3;
  }
  switch (status) {
  case 0xF0:
    return 0;
  case 0xF1:
  case 0xF3:
    return 2;
  case 0xF2:
    return 3;
  default:
    return 1; // tune request, EOX alone, realtime, undefined
  }
}

bool is_complete_message(std::span<const std::uint8_t> bytes) noexcept {
  // A lone F7 (end of SysEx) ends nothing: PROTOCOL.md lists it with no complete message.
  if (bytes.empty() || bytes[0] < 0x80 || bytes[0] == 0xF7) return false;
  if (bytes[0] == 0xF0) {
    if (bytes.size() < 2 || bytes.back() != 0xF7) return false;
    for (std::size_t i = 1; i + 1 < bytes.size(); ++i)
      if (bytes[i] >= 0x80) return false;
    return true;
  }
  if (bytes.size() != expected_length(bytes[0])) return false;
  for (std::size_t i = 1; i < bytes.size(); ++i)
    if (bytes[i] >= 0x80) return false;
  return true;
}

} // namespace midimesh::midi
