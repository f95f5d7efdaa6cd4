#pragma once
// SysEx larger than one packet travels in segments (RFC 6295, section 3.2): F0 ... F0 first,
// F7 ... F0 in the middle, F7 ... F7 last; F7 ... F4 cancels a SysEx under way. Splitting on
// send, reassembly on receive. Pure code.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace midimesh::rtpmidi {

// Splits one complete SysEx (F0 ... F7) into segments of at most max_segment bytes each
// (max_segment >= 3). A SysEx that fits is returned whole, as one segment.
std::vector<std::vector<std::uint8_t>> split_sysex(std::span<const std::uint8_t> sysex,
                                                   std::size_t max_segment);

// Receives the SysEx commands of one sender, whole or in segments, in order.
class SysexAssembler {
public:
  explicit SysexAssembler(std::size_t max_size = 256 * 1024) : max_size_(max_size) {}

  enum class Outcome {
    complete,   // `message` holds a whole SysEx, F0 ... F7
    incomplete, // a segment was taken; more must follow
    cancelled,  // the sender cancelled the SysEx under way (F7 ... F4)
    dropped,    // a segment out of place (a middle without a start), or the SysEx grew over
                // max_size: what was gathered is thrown away
  };
  struct Result {
    Outcome outcome = Outcome::incomplete;
    std::vector<std::uint8_t> message; // with complete only
  };

  // `command` is a SysEx command as MidiCommand carries it (starts with F0 or F7).
  Result take(std::span<const std::uint8_t> command);
  // Packets were lost: a SysEx under way cannot be completed. True if one was thrown away.
  bool interrupt();
  bool in_progress() const noexcept { return !buffer_.empty(); }

private:
  std::size_t max_size_;
  std::vector<std::uint8_t> buffer_;
};

} // namespace midimesh::rtpmidi
