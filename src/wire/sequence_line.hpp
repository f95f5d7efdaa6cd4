#pragma once
// One sender's numbering as a receiver trusts it (PROTOCOL.md section 2, "Sequence numbers"):
// the line, the newest number accepted into the sender's order, and at most one pending number
// off the line, already played but not yet confirmed by the sender's next message. Pure code.
// Nodes count losses with it (node/peer_table); the hub forwards only the first copy of a
// message that a node sends over several connections (hub/first_copy).

#include <cstdint>
#include <optional>

namespace midimesh::wire {

struct SequenceRule {
  // A number up to this far behind the sender's line is a repeat (a failover's replay: a sender
  // resends at most its last 4,096 messages; or the copy of a message sent over several
  // connections); further behind, the sender restarted its numbering.
  std::uint64_t repeat_window = 4'096;
  // A gap larger than this is no loss: the queues between a sender and a receiver hold about a
  // quarter of it. The numbering restarted (or is not the sender's); nothing is counted lost.
  std::uint64_t max_gap = 1'000'000;
};

struct SequenceLine {
  std::uint64_t line = 0;
  std::optional<std::uint64_t> pending;
};

struct LineStep {
  bool repeat = false;      // seen before (within the repeat window): ignore the message
  bool out_of_line = false; // the pending number was not the sender's: forgotten
  // The pending number stood: the line moved from `from` to `to` (a gap ahead, or a restart).
  bool moved = false;
  std::uint64_t from = 0, to = 0;
};

// Starts the line at a sender's first number heard.
inline SequenceLine first_heard(std::uint64_t seq) noexcept {
  return {seq, std::nullopt};
}
// The next number heard from the sender.
LineStep advance(SequenceLine& line, std::uint64_t seq, const SequenceRule& rule) noexcept;

} // namespace midimesh::wire
