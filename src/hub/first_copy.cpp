#include "hub/first_copy.hpp"

#include "wire/envelope.hpp"

namespace midimesh::hub {

bool FirstCopy::admit(std::string_view sender, std::uint8_t type, std::uint64_t seq,
                      std::uint64_t now_us) {
  // Beacons and status reports are numbered in sequences of their own (and status reports never
  // reach the nodes): no copy of them is told apart.
  if (type == static_cast<std::uint8_t>(wire::MessageType::hub_beacon) ||
      type == static_cast<std::uint8_t>(wire::MessageType::status))
    return true;
  if (now_us >= next_sweep_us_) forget_silent(now_us);
  auto it = lines_.find(sender);
  if (it == lines_.end()) {
    if (lines_.size() >= limits_.max_senders) {
      ++untracked_;
      return true;
    }
    lines_.emplace(std::string(sender), Sender{wire::first_heard(seq), now_us});
    return true;
  }
  it->second.last_us = now_us;
  return !wire::advance(it->second.numbering, seq, rule_).repeat;
}

bool FirstCopy::admit(std::span<const std::uint8_t> envelope, std::uint64_t now_us) {
  const wire::Parsed parsed = wire::parse(envelope);
  if (!parsed) return true;
  return admit(parsed.view->sender, parsed.view->type, parsed.view->seq, now_us);
}

void FirstCopy::forget_silent(std::uint64_t now_us) {
  for (auto it = lines_.begin(); it != lines_.end();)
    it = now_us - it->second.last_us >= limits_.forget_us ? lines_.erase(it) : std::next(it);
  next_sweep_us_ = now_us + limits_.forget_us;
}

} // namespace midimesh::hub
