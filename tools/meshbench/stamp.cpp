#include "stamp.hpp"

namespace meshbench {
namespace {

void put7(std::uint8_t* at, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    at[i] = static_cast<std::uint8_t>((value >> (7 * i)) & 0x7F);
}

std::uint64_t get7(const std::uint8_t* at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<std::uint64_t>(at[i] & 0x7F) << (7 * i);
  return value;
}

} // namespace

std::array<std::uint8_t, stamp_size> encode_stamp(const Stamp& stamp) noexcept {
  std::array<std::uint8_t, stamp_size> m{0xF0, 0x7D, static_cast<std::uint8_t>(stamp.kind & 0x7F),
                                         static_cast<std::uint8_t>(stamp.source & 0x7F)};
  put7(m.data() + 4, stamp.seq, 4);
  put7(m.data() + 8, stamp.time_us, 10);
  m[stamp_size - 1] = 0xF7;
  return m;
}

std::optional<Stamp> decode_stamp(std::span<const std::uint8_t> m) noexcept {
  if (m.size() != stamp_size || m[0] != 0xF0 || m[1] != 0x7D || m[stamp_size - 1] != 0xF7)
    return std::nullopt;
  return Stamp{m[2], m[3], get7(m.data() + 4, 4), get7(m.data() + 8, 10)};
}

} // namespace meshbench
