#pragma once
// The recovery journal of RFC 6295 (section 4 and appendix A), the part of it a musician needs:
// no note left sounding and no controller left wrong after a lost packet.
//
// Sender: every packet carries a journal that sums up the MIDI sent since the checkpoint (the
// oldest packet the receiver may not have): chapter N (note-offs as OFFBITS, the latest note-on
// of each note still sounding as a note log) and chapter C (the latest value of each
// controller), per channel. Receiver feedback (RS) moves the checkpoint forward.
//
// Receiver: after a gap in sequence numbers, the journal of the first packet that arrives says
// what the lost packets did; `JournalRecovery` compares it with what it has played and returns
// the MIDI that brings the receiver in line. Chapters it does not use (P, M, W, E, T, A and the
// system journal) are skipped by their lengths.
// Pure code: no sockets, no clock. Parsing never throws: a bad journal is a value.

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace midimesh::rtpmidi {

using MidiBytes = std::vector<std::uint8_t>;

// The sender's side, one per stream (each receiver numbers its own packets).
class JournalHistory {
public:
  // A MIDI message that went out in the packet numbered `seq`. Notes and controllers are
  // journalled; All Notes Off, All Sound Off and the mode changes (CC 120, 123-127) count as
  // a note-off of every note of their channel; other messages are ignored.
  void record(std::uint16_t seq, std::span<const std::uint8_t> message);
  // The receiver has every packet up to and including `seq` (RS): history up to it is dropped.
  void acknowledge(std::uint16_t seq);
  // Nothing to journal since the checkpoint.
  bool empty() const noexcept;
  // The journal section for the packet numbered `packet_seq`, or an empty vector when there is
  // nothing to journal. Its checkpoint is the oldest unacknowledged packet that had MIDI.
  // Entries whose latest change went out in `packet_seq` itself are left out (that packet's
  // own commands carry them), so record() may be called before or after encode().
  MidiBytes encode(std::uint16_t packet_seq) const;

private:
  // The latest event of each note and controller since the last acknowledgement, with the
  // packet it went out in: acknowledge() drops exactly the entries the receiver has seen.
  struct Channel {
    std::array<std::uint8_t, 128> note_velocity{}; // velocity of a sounding note, else 0
    std::bitset<128> note_on;                      // note-on is the note's latest event
    std::bitset<128> note_off;                     // note-off is the note's latest event
    std::array<std::uint16_t, 128> note_seq{};     // packet of the latest event
    std::array<std::uint8_t, 128> controller{};
    std::bitset<128> controller_set;
    std::array<std::uint16_t, 128> controller_seq{};
    bool empty() const noexcept {
      return note_on.none() && note_off.none() && controller_set.none();
    }
  };
  std::array<Channel, 16> channels_{};
};

struct Recovery {
  std::vector<MidiBytes> messages; // to play, in this order
  bool malformed = false;          // the journal could not be read (nothing was applied)
};

// The receiver's side, one per sender.
class JournalRecovery {
public:
  // Every MIDI message received from the sender (and played), in order.
  void observe(std::span<const std::uint8_t> message);
  // Packets were lost; `journal` is the journal of the first packet after the gap (its bytes
  // from MidiPacket::journal). Returns what to play: note-offs for notes the sender released
  // meanwhile, note-ons it played meanwhile and still holds (when the journal says so),
  // controllers whose value changed. Updates its own state as if they were played.
  Recovery recover(std::span<const std::uint8_t> journal);

private:
  struct Channel {
    std::bitset<128> sounding;
    std::array<std::uint8_t, 128> controller{};
    std::bitset<128> controller_known;
  };
  std::array<Channel, 16> channels_{};
};

// True when `journal` parses as a whole (header, system journal length, every channel journal
// and chapter length within bounds). For counting malformed journals.
bool is_valid_journal(std::span<const std::uint8_t> journal) noexcept;

} // namespace midimesh::rtpmidi
