#include "hub/frame_check.hpp"

#include "wire/envelope.hpp"

namespace midimesh::hub {

std::string_view describe(Verdict verdict) noexcept {
  switch (verdict) {
  case Verdict::forward:
    return "forwarded";
  case Verdict::to_monitors:
    return "sent to monitors";
  case Verdict::wrong_frame_count:
    return "wrong number of frames";
  case Verdict::malformed:
    return "malformed envelope";
  case Verdict::too_large:
    return "message too large";
  case Verdict::version_mismatch:
    return "other protocol version";
  case Verdict::spoofed_sender:
    return "topic does not match sender";
  }
  return "unknown";
}

Verdict check_message(std::size_t frame_count, std::span<const std::uint8_t> topic,
                      std::span<const std::uint8_t> envelope) {
  if (frame_count != 2) return Verdict::wrong_frame_count;
  const wire::Parsed parsed = wire::parse(envelope);
  if (!parsed) {
    switch (parsed.error) {
    case wire::DecodeError::too_large:
      return Verdict::too_large;
    case wire::DecodeError::version_mismatch:
      return Verdict::version_mismatch;
    case wire::DecodeError::bad_sender:
      return Verdict::spoofed_sender;
    case wire::DecodeError::malformed:
      return Verdict::malformed;
    }
  }
  const std::string_view sender = parsed.view->sender;
  if (topic.size() != sender.size() ||
      std::string_view(reinterpret_cast<const char*>(topic.data()), topic.size()) != sender)
    return Verdict::spoofed_sender;
  if (parsed.view->type == static_cast<std::uint8_t>(wire::MessageType::status))
    return Verdict::to_monitors;
  return Verdict::forward;
}

} // namespace midimesh::hub
