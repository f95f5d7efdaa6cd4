#include "wire/sequence_line.hpp"

namespace midimesh::wire {

// A sender's own connection delivers its messages in the order it numbered them. So a number
// off the line (a gap ahead, or far behind: a restart) is played but trusted only once the
// sender's next message goes on from it; if the next one goes on from where the line stood, the
// odd number was not the sender's (forged or corrupted) and is forgotten. A number far behind
// the line, beyond any replay, is a restart of the numbering, never a reason to mute the sender.
LineStep advance(SequenceLine& s, std::uint64_t seq, const SequenceRule& rule) noexcept {
  LineStep step;
  const auto next_on_line = [&s](std::uint64_t n) { return n > s.line && n - s.line == 1; };
  if (s.pending) {
    if (next_on_line(seq)) {
      step.out_of_line = true;
    } else {
      step.moved = true;
      step.from = s.line;
      step.to = *s.pending;
      s.line = *s.pending;
    }
    s.pending.reset();
  }
  if (next_on_line(seq))
    s.line = seq;
  else if (seq <= s.line && s.line - seq < rule.repeat_window)
    step.repeat = true;
  else
    s.pending = seq; // played now; trusted once the next message goes on from it
  return step;
}

} // namespace midimesh::wire
