#include "client_id.hpp"

#include <charconv>
#include <fmt/format.h>
#include <random>

namespace meshbench {

std::uint32_t make_run_nonce() {
  std::random_device device;
  return static_cast<std::uint32_t>(device());
}

std::string client_id(std::uint32_t nonce, std::size_t index) {
  return fmt::format("{:08x}{:08x}", nonce, index);
}

std::optional<std::size_t> client_index(std::uint32_t nonce, std::string_view topic) noexcept {
  if (topic.size() != 16) return std::nullopt;
  std::uint32_t head = 0, tail = 0;
  if (std::from_chars(topic.data(), topic.data() + 8, head, 16).ptr != topic.data() + 8 ||
      head != nonce)
    return std::nullopt;
  if (std::from_chars(topic.data() + 8, topic.data() + 16, tail, 16).ptr != topic.data() + 16)
    return std::nullopt;
  return tail;
}

} // namespace meshbench
