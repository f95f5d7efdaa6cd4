#include "rtpmidi/sysex_segments.hpp"

#include <algorithm>

namespace midimesh::rtpmidi {
namespace {

constexpr std::uint8_t sysex_start = 0xf0;
constexpr std::uint8_t sysex_end = 0xf7;
constexpr std::uint8_t sysex_cancel = 0xf4;

} // namespace

std::vector<std::vector<std::uint8_t>> split_sysex(std::span<const std::uint8_t> sysex,
                                                   std::size_t max_segment) {
  max_segment = std::max<std::size_t>(max_segment, 3);
  const bool whole = sysex.size() >= 2 && sysex.front() == sysex_start && sysex.back() == sysex_end;
  // What is not a SysEx cannot be segmented; handing it on unchanged lets the caller's check of
  // the message, not this one, decide about it.
  if (sysex.size() <= max_segment || !whole) return {{sysex.begin(), sysex.end()}};

  const auto data = sysex.subspan(1, sysex.size() - 2);
  const std::size_t per_segment = max_segment - 2;
  std::vector<std::vector<std::uint8_t>> segments;
  segments.reserve((data.size() + per_segment - 1) / per_segment);
  for (std::size_t at = 0; at < data.size(); at += per_segment) {
    const std::size_t n = std::min(per_segment, data.size() - at);
    std::vector<std::uint8_t> segment;
    segment.reserve(n + 2);
    segment.push_back(at == 0 ? sysex_start : sysex_end);
    segment.insert(segment.end(), data.begin() + static_cast<std::ptrdiff_t>(at),
                   data.begin() + static_cast<std::ptrdiff_t>(at + n));
    segment.push_back(at + n == data.size() ? sysex_end : sysex_start);
    segments.push_back(std::move(segment));
  }
  return segments;
}

SysexAssembler::Result SysexAssembler::take(std::span<const std::uint8_t> command) {
  const bool starts = !command.empty() && command.front() == sysex_start;
  const bool continues = !command.empty() && command.front() == sysex_end;
  const std::uint8_t tail = command.size() >= 2 ? command.back() : 0;
  if ((!starts && !continues) ||
      (tail != sysex_end && tail != sysex_start && tail != sysex_cancel)) {
    // Not a SysEx command: whatever was under way cannot be trusted to continue.
    buffer_.clear();
    return {Outcome::dropped, {}};
  }
  if (starts)
    buffer_.clear(); // a start ends any SysEx still under way: it cannot complete now
  else if (buffer_.empty())
    return {Outcome::dropped, {}}; // continues nothing (or one dropped)

  if (tail == sysex_cancel) {
    buffer_.clear();
    return {Outcome::cancelled, {}};
  }
  const auto data = command.subspan(1, command.size() - 2);
  // Counted with the start byte and the end byte still to come, so that the check fails as soon
  // as the message cannot fit, before more is gathered.
  const std::size_t head = starts ? 1 : buffer_.size();
  if (head + data.size() + 1 > max_size_) {
    buffer_.clear();
    // Later segments of this SysEx find nothing under way and are dropped, up to the next start.
    return {Outcome::dropped, {}};
  }
  if (starts) buffer_.push_back(sysex_start);
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  if (tail == sysex_start) return {Outcome::incomplete, {}};
  buffer_.push_back(sysex_end);
  Result result{Outcome::complete, std::move(buffer_)};
  buffer_.clear();
  return result;
}

bool SysexAssembler::interrupt() {
  const bool under_way = !buffer_.empty();
  buffer_.clear();
  return under_way;
}

} // namespace midimesh::rtpmidi
