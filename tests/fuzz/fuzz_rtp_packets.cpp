// libFuzzer target: the RTP-MIDI codecs, all fed the same bytes: AppleMIDI session packets, RTP
// MIDI packets (command section and journal), the recovery journal on its own, SysEx segment
// reassembly, and the sender's journal built from the bytes taken as MIDI. Invariants: what
// decodes encodes back to the same value; everything played is a complete MIDI message; what
// the sender journals is a valid journal that changes nothing for a receiver that missed nothing.

#include "check.hpp"
#include "midi/midi_message.hpp"
#include "rtpmidi/recovery_journal.hpp"
#include "rtpmidi/rtp_midi_packet.hpp"
#include "rtpmidi/session_packet.hpp"
#include "rtpmidi/sysex_segments.hpp"

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

using namespace midimesh;
using namespace midimesh::rtpmidi;
using Bytes = std::span<const std::uint8_t>;

namespace {

void session_packet(Bytes bytes) {
  const DecodedSession decoded = decode_session(bytes);
  FUZZ_CHECK(bool(decoded) == false || is_session_packet(bytes));
  if (!decoded) return;
  const auto encoded = std::visit([](const auto& p) { return encode(p); }, *decoded.packet);
  const DecodedSession again = decode_session(encoded);
  FUZZ_CHECK(again && *again.packet == *decoded.packet);
}

void recover_journal(JournalRecovery& receiver, Bytes journal) {
  const bool valid = is_valid_journal(journal);
  const Recovery recovery = receiver.recover(journal);
  FUZZ_CHECK(recovery.malformed == !valid);
  FUZZ_CHECK(!recovery.malformed || recovery.messages.empty());
  for (const auto& message : recovery.messages)
    FUZZ_CHECK(midi::is_complete_message(message));
}

void midi_packet(Bytes bytes, std::uint8_t running_status) {
  const DecodedRtp decoded = decode_midi_packet(bytes, running_status);
  if (!decoded) return;
  const MidiPacket& packet = *decoded.packet;
  FUZZ_CHECK(packet.has_journal || packet.journal.empty());
  std::size_t length = 0;
  for (std::size_t i = 0; i < packet.commands.size(); ++i) {
    const MidiCommand& command = packet.commands[i];
    FUZZ_CHECK(!command.bytes.empty() && command.bytes.front() >= 0x80);
    // Anything but a SysEx segment is a message a MIDI port takes as it is.
    const std::uint8_t status = command.bytes.front();
    if (status != 0xf0 && status != 0xf7) FUZZ_CHECK(midi::is_complete_message(command.bytes));
    length += encoded_size(command, i == 0);
  }
  // Running status expanded, the section may no longer fit the 12-bit length.
  if (length <= max_command_section) {
    const auto encoded = encode_midi_packet(packet.header, packet.commands, packet.journal);
    const DecodedRtp again = decode_midi_packet(encoded);
    FUZZ_CHECK(bool(again));
    FUZZ_CHECK(again.packet->header == packet.header);
    FUZZ_CHECK(again.packet->commands == packet.commands);
    FUZZ_CHECK(std::equal(packet.journal.begin(), packet.journal.end(),
                          again.packet->journal.begin(), again.packet->journal.end()));
  }
  if (packet.has_journal) {
    JournalRecovery receiver;
    recover_journal(receiver, packet.journal);
  }
}

// The bytes as SysEx commands, each prefixed by its length, into an assembler with a small limit.
void sysex(Bytes bytes) {
  if (bytes.empty()) return;
  SysexAssembler assembler(16 + bytes[0]);
  std::size_t at = 1;
  while (at < bytes.size()) {
    const std::size_t declared = bytes[at++];
    const std::size_t n = std::min(declared, bytes.size() - at);
    const SysexAssembler::Result result = assembler.take(bytes.subspan(at, n));
    at += n;
    if (result.outcome != SysexAssembler::Outcome::complete) {
      FUZZ_CHECK(result.message.empty());
      continue;
    }
    FUZZ_CHECK(!assembler.in_progress());
    const auto& message = result.message;
    FUZZ_CHECK(message.size() >= 2 && message.size() <= 16u + bytes[0]);
    FUZZ_CHECK(message.front() == 0xf0 && message.back() == 0xf7);
    // Split and reassembled, a SysEx comes out whole.
    SysexAssembler whole;
    const auto segments = split_sysex(message, 3 + bytes[0] % 8);
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const auto r = whole.take(segments[i]);
      if (i + 1 < segments.size()) {
        FUZZ_CHECK(r.outcome == SysexAssembler::Outcome::incomplete);
      } else {
        FUZZ_CHECK(r.outcome == SysexAssembler::Outcome::complete && r.message == message);
      }
    }
  }
}

// The bytes as channel messages (status, two data bytes; the top bits of both data bytes ask for
// an acknowledgement, which walks the whole history: not too often), sent one per packet and
// journalled; a receiver that got every packet learns nothing from the journal.
void journal_history(Bytes bytes) {
  JournalHistory history;
  JournalRecovery receiver;
  std::uint16_t seq = static_cast<std::uint16_t>(bytes.size() * 40503u);
  for (std::size_t at = 0; at + 3 <= bytes.size(); at += 3) {
    const std::uint8_t message[3] = {static_cast<std::uint8_t>(0x80 | (bytes[at] & 0x3f)),
                                     static_cast<std::uint8_t>(bytes[at + 1] & 0x7f),
                                     static_cast<std::uint8_t>(bytes[at + 2] & 0x7f)};
    history.record(seq, message);
    receiver.observe(message);
    if (bytes[at + 1] & bytes[at + 2] & 0x80)
      history.acknowledge(static_cast<std::uint16_t>(seq - bytes[at] % 4));
    ++seq;
  }
  const auto journal = history.encode(seq);
  FUZZ_CHECK(journal.empty() == history.empty());
  if (journal.empty()) return;
  FUZZ_CHECK(is_valid_journal(journal));
  const Recovery recovery = receiver.recover(journal);
  FUZZ_CHECK(!recovery.malformed && recovery.messages.empty());
  JournalRecovery stranger;
  recover_journal(stranger, journal);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes bytes(data, size);
  session_packet(bytes);
  midi_packet(bytes, 0);
  midi_packet(bytes, 0x93);
  JournalRecovery receiver;
  recover_journal(receiver, bytes);
  sysex(bytes);
  journal_history(bytes);
  return 0;
}
