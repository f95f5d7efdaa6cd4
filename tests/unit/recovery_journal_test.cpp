#include "rtpmidi/recovery_journal.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using midimesh::rtpmidi::is_valid_journal;
using midimesh::rtpmidi::JournalHistory;
using midimesh::rtpmidi::JournalRecovery;
using midimesh::rtpmidi::MidiBytes;

namespace {

MidiBytes note_on(int channel, int note, int velocity) {
  return {static_cast<std::uint8_t>(0x90 | channel), static_cast<std::uint8_t>(note),
          static_cast<std::uint8_t>(velocity)};
}
MidiBytes note_off(int channel, int note) {
  return {static_cast<std::uint8_t>(0x80 | channel), static_cast<std::uint8_t>(note), 0x40};
}
MidiBytes control(int channel, int number, int value) {
  return {static_cast<std::uint8_t>(0xb0 | channel), static_cast<std::uint8_t>(number),
          static_cast<std::uint8_t>(value)};
}

// What a synthesizer holds after playing a stream of messages.
struct Synth {
  std::array<std::bitset<128>, 16> sounding;
  std::array<std::array<int, 128>, 16> controller{};
  Synth() {
    for (auto& c : controller)
      c.fill(-1);
  }
  void play(const MidiBytes& m) {
    const int kind = m[0] & 0xf0, ch = m[0] & 0x0f;
    if (kind == 0x90 && m[2] != 0)
      sounding[ch].set(m[1]);
    else if (kind == 0x80 || kind == 0x90)
      sounding[ch].reset(m[1]);
    else if (kind == 0xb0 && (m[1] == 120 || m[1] >= 123))
      sounding[ch].reset();
    else if (kind == 0xb0 && m[1] != 121)
      controller[ch][m[1]] = m[2];
  }
};

// How the npm rtpmidi peer (MidiMessage.js parseJournal) walks a journal: the header, the
// system journal's LENGTH, then TOTCHAN + 1 channel journals by their LENGTH (two bits of the
// first octet and the second). Returns where it stops and the channels it saw.
struct NodeView {
  std::size_t end = 0;
  std::vector<int> channels;
};
NodeView node_parse(const MidiBytes& j) {
  NodeView v;
  std::size_t offset = 3;
  if ((j[0] & 0x40) != 0)
    offset += static_cast<std::size_t>((j[offset] & 0x3) << 8 | j[offset + 1]);
  if ((j[0] & 0x20) != 0) {
    const int total = (j[0] & 0x0f) + 1;
    for (int c = 0; c < total && offset < j.size(); ++c) {
      v.channels.push_back((j[offset] >> 3) & 0x0f);
      offset += static_cast<std::size_t>((j[offset] & 0x3) << 8 | j[offset + 1]);
    }
  }
  v.end = offset;
  return v;
}

std::string hex(const MidiBytes& bytes) {
  std::string out;
  for (auto b : bytes) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 15];
    out += ' ';
  }
  return out;
}

} // namespace

TEST_CASE("an empty history journals nothing") {
  JournalHistory history;
  CHECK(history.empty());
  CHECK(history.encode(10).empty());
  history.record(5, std::vector<std::uint8_t>{0xf8});
  history.record(5, std::vector<std::uint8_t>{0xc0, 0x05});
  CHECK(history.empty());
  CHECK(history.encode(6).empty());
}

TEST_CASE("a lost note-off is recovered from the next journal") {
  JournalHistory sender;
  JournalRecovery receiver;
  sender.record(1, note_on(0, 60, 100));
  receiver.observe(note_on(0, 60, 100));
  sender.record(2, note_off(0, 60)); // lost
  const MidiBytes journal = sender.encode(3);
  REQUIRE(is_valid_journal(journal));
  const auto recovery = receiver.recover(journal);
  CHECK_FALSE(recovery.malformed);
  REQUIRE(recovery.messages.size() == 1);
  CHECK(recovery.messages[0] == MidiBytes{0x80, 60, 0});
  // Played once: the same journal again changes nothing.
  CHECK(receiver.recover(journal).messages.empty());
}

TEST_CASE("a lost note-on still held is played, and a lost controller change is set") {
  JournalHistory sender;
  JournalRecovery receiver;
  receiver.observe(control(3, 7, 90));
  sender.record(1, note_on(3, 64, 77)); // lost
  sender.record(1, control(3, 7, 20));  // lost
  sender.record(1, control(3, 1, 5));   // lost
  const auto recovery = receiver.recover(sender.encode(2));
  REQUIRE(recovery.messages.size() == 3);
  // Controllers before note-ons, in controller order.
  CHECK(recovery.messages[0] == MidiBytes{0xb3, 1, 5});
  CHECK(recovery.messages[1] == MidiBytes{0xb3, 7, 20});
  CHECK(recovery.messages[2] == MidiBytes{0x93, 64, 77});
}

TEST_CASE("a note the receiver already holds is left alone") {
  JournalHistory sender;
  JournalRecovery receiver;
  sender.record(1, note_on(0, 60, 100));
  receiver.observe(note_on(0, 60, 100));
  sender.record(2, control(0, 10, 64)); // lost
  const auto recovery = receiver.recover(sender.encode(3));
  REQUIRE(recovery.messages.size() == 1);
  CHECK(recovery.messages[0] == MidiBytes{0xb0, 10, 64});
}

TEST_CASE("All Notes Off releases every note, even ones no longer in the history") {
  JournalHistory sender;
  JournalRecovery receiver;
  for (const auto& m : {note_on(5, 40, 1), note_on(5, 90, 2), note_on(6, 40, 3)}) {
    sender.record(1, m);
    receiver.observe(m);
  }
  sender.acknowledge(1);
  CHECK(sender.empty());
  sender.record(2, control(5, 123, 0)); // lost
  const auto recovery = receiver.recover(sender.encode(3));
  REQUIRE(recovery.messages.size() == 2);
  CHECK(recovery.messages[0] == MidiBytes{0x85, 40, 0});
  CHECK(recovery.messages[1] == MidiBytes{0x85, 90, 0});
}

TEST_CASE("the journal leaves out what the packet itself carries") {
  JournalHistory sender;
  sender.record(7, note_on(0, 60, 100));
  CHECK(sender.encode(7).empty());
  CHECK_FALSE(sender.encode(8).empty());
  sender.record(8, note_off(0, 60));
  CHECK(sender.encode(8).empty());
}

TEST_CASE("acknowledge drops what the receiver has, across the 65535 -> 0 wrap") {
  JournalHistory sender;
  sender.record(65534, note_on(0, 1, 10));
  sender.record(65535, note_on(0, 2, 20));
  sender.record(0, note_on(0, 3, 30));
  sender.record(1, control(0, 7, 40));
  auto journal = sender.encode(2);
  REQUIRE(journal.size() >= 3);
  CHECK((journal[1] << 8 | journal[2]) == 65534); // checkpoint: the oldest unacknowledged
  sender.acknowledge(65535);
  journal = sender.encode(2);
  REQUIRE(journal.size() >= 3);
  CHECK((journal[1] << 8 | journal[2]) == 0);
  // Only notes 3 (on) and controller 7 are left.
  JournalRecovery receiver;
  const auto recovery = receiver.recover(journal);
  REQUIRE(recovery.messages.size() == 2);
  CHECK(recovery.messages[0] == MidiBytes{0xb0, 7, 40});
  CHECK(recovery.messages[1] == MidiBytes{0x90, 3, 30});
  // An acknowledgement older than the history drops nothing.
  sender.acknowledge(65000);
  CHECK(sender.encode(2) == journal);
  sender.acknowledge(1);
  CHECK(sender.empty());
  CHECK(sender.encode(2).empty());
}

TEST_CASE("chapter N as RFC 6295 lays it out") {
  JournalHistory sender;
  sender.record(100, note_on(2, 60, 100));
  sender.record(101, note_off(2, 62));
  // Packet 103: nothing came from packet 102, so every S bit is 1.
  //   journal header  S=1 Y=0 A=1 H=0 TOTCHAN=0, checkpoint 100
  //   channel journal S=1 CHAN=2 H=0 LENGTH=8, TOC N
  //   chapter N       B=1 LEN=1, LOW=7 HIGH=7 (notes 56-63)
  //                   log S=1 NOTENUM=60, Y=1 VELOCITY=100
  //                   OFFBITS 0000 0010 (note 62: 56 + 6)
  CHECK(sender.encode(103) ==
        MidiBytes{0xa0, 0x00, 0x64, 0x90, 0x08, 0x08, 0x81, 0x77, 0xbc, 0xe4, 0x02});
  // Packet 102: the note-off went out in packet 101 (I - 1), so it and every structure that
  // holds it say S=0; the note log from packet 100 keeps S=1.
  CHECK(sender.encode(102) ==
        MidiBytes{0x20, 0x00, 0x64, 0x10, 0x08, 0x08, 0x01, 0x77, 0xbc, 0xe4, 0x02});
}

TEST_CASE("chapter C as RFC 6295 lays it out") {
  JournalHistory sender;
  sender.record(7, control(0, 7, 100));
  sender.record(8, control(0, 64, 127));
  //   journal header  S=0 (packet 8 is I - 1) A=1 TOTCHAN=0, checkpoint 7
  //   channel journal S=0 CHAN=0 LENGTH=8, TOC C
  //   chapter C       S=0 LEN=1 (two logs)
  //                   S=1 NUMBER=7,  A=0 VALUE=100
  //                   S=0 NUMBER=64, A=0 VALUE=127
  CHECK(sender.encode(9) ==
        MidiBytes{0x20, 0x00, 0x07, 0x00, 0x08, 0x40, 0x01, 0x87, 0x64, 0x40, 0x7f});
}

namespace {

// Two channel journals behind a system journal, with every chapter kind we skip:
//   header          S=1 Y=1 A=1 TOTCHAN=1, checkpoint 0x1234
//   system journal  S=1 D=1 LENGTH=5 and three octets of chapters
//   channel 1       S=1 CHAN=1 LENGTH=14, TOC P W N T
//     P  PROGRAM=5, BANK-MSB=0, BANK-LSB=0
//     W  FIRST=0, SECOND=0x40
//     N  B=1 LEN=1, LOW=8 HIGH=8; log NOTENUM=67 Y=1 VELOCITY=90; OFFBITS 1000 0000 (note 64)
//     T  PRESSURE=127
//   channel 9       S=1 CHAN=9 LENGTH=18, TOC C M E A
//     C  LEN=1: NUMBER=1 A=0 VALUE=50; NUMBER=64 A=1 T=0 ALT=2 (a toggle count)
//     M  S=1 P=0 LENGTH=4, two octets of logs
//     E  LEN=0, one log; A  LEN=0, one log
const MidiBytes every_chapter{
    0xe1, 0x12, 0x34,             //
    0xc0, 0x05, 0x81, 0x02, 0x03, //
    0x88, 0x0e, 0x9a,             //
    0x05, 0x00, 0x00,             // P
    0x00, 0x40,                   // W
    0x81, 0x88, 0x43, 0xda, 0x80, // N
    0x7f,                         // T
    0xc8, 0x12, 0x65,             //
    0x81, 0x81, 0x32, 0xc0, 0x82, // C
    0x80, 0x04, 0x00, 0x00,       // M
    0x80, 0x40, 0x01,             // E
    0x80, 0x40, 0x20,             // A
};

} // namespace

TEST_CASE("chapters P, M, W, E, T, A and the system journal are skipped by their lengths") {
  REQUIRE(is_valid_journal(every_chapter));
  JournalRecovery receiver;
  receiver.observe(note_on(1, 64, 100));
  receiver.observe(control(9, 1, 40));
  const auto recovery = receiver.recover(every_chapter);
  CHECK_FALSE(recovery.malformed);
  REQUIRE(recovery.messages.size() == 3);
  CHECK(recovery.messages[0] == MidiBytes{0x81, 64, 0});
  CHECK(recovery.messages[1] == MidiBytes{0x91, 67, 90});
  CHECK(recovery.messages[2] == MidiBytes{0xb9, 1, 50}); // the A=1 log of 64 is not replayed
  const NodeView node = node_parse(every_chapter);
  CHECK(node.end == every_chapter.size());
  CHECK(node.channels == std::vector<int>{1, 9});
}

TEST_CASE("chapter N with 127 and 128 note logs") {
  for (const int notes : {127, 128}) {
    JournalHistory sender;
    for (int n = 0; n < notes; ++n)
      sender.record(1, note_on(4, n, 1 + n % 127));
    const MidiBytes journal = sender.encode(3);
    REQUIRE(journal.size() == 3 + 3 + 2 + 2 * static_cast<std::size_t>(notes));
    CHECK(journal[6] == 0xff); // B=1, LEN=127 either way
    // 128 logs: LOW=15 HIGH=0. 127 logs without OFFBITS: (15, 1), since (15, 0) means 128.
    CHECK(journal[7] == (notes == 128 ? 0xf0 : 0xf1));
    REQUIRE(is_valid_journal(journal));
    JournalRecovery receiver;
    const auto recovery = receiver.recover(journal);
    REQUIRE(recovery.messages.size() == static_cast<std::size_t>(notes));
    CHECK(recovery.messages.back() == note_on(4, notes - 1, 1 + (notes - 1) % 127));
  }
}

TEST_CASE("a chapter N with OFFBITS over the whole note range") {
  JournalHistory sender;
  JournalRecovery receiver;
  for (int n : {0, 7, 8, 120, 127}) {
    sender.record(1, note_on(15, n, 9));
    receiver.observe(note_on(15, n, 9));
  }
  sender.acknowledge(1);
  for (int n : {0, 7, 8, 120, 127})
    sender.record(2, note_off(15, n));
  const MidiBytes journal = sender.encode(3);
  // LOW=0 HIGH=15: 16 OFFBITS octets, the first 1000 0001, the second 1000 0000, the last
  // 1000 0001.
  REQUIRE(journal.size() == 3 + 3 + 2 + 16);
  CHECK(journal[3] == 15 << 3); // S=0: the note-offs went out in packet 2 (I - 1)
  CHECK(journal[7] == 0x0f);
  CHECK(journal[8] == 0x81);
  CHECK(journal[9] == 0x80);
  CHECK(journal[23] == 0x81);
  const auto recovery = receiver.recover(journal);
  REQUIRE(recovery.messages.size() == 5);
  CHECK(recovery.messages[4] == MidiBytes{0x8f, 127, 0});
}

TEST_CASE("the npm rtpmidi peer walks our journals to their end") {
  JournalHistory sender;
  for (int c = 0; c < 16; ++c) {
    sender.record(10, note_on(c, 30 + c, 100));
    sender.record(11, note_off(c, 60));
    sender.record(11, control(c, c, c));
  }
  for (int n = 0; n < 128; ++n) // the longest channel journal: 534 octets, LENGTH over 255
    sender.record(12, note_on(7, n, 64));
  for (int n = 0; n < 128; ++n)
    sender.record(12, control(7, n, 1));
  const MidiBytes journal = sender.encode(13);
  REQUIRE(is_valid_journal(journal));
  CHECK((journal[0] & 0x0f) == 15); // TOTCHAN: 16 channel journals
  const NodeView node = node_parse(journal);
  CHECK(node.end == journal.size());
  std::vector<int> all(16);
  for (int c = 0; c < 16; ++c)
    all[static_cast<std::size_t>(c)] = c;
  CHECK(node.channels == all);
}

TEST_CASE("round trips through lossy streams leave the receiver where the sender is") {
  const bool record_first = GENERATE(true, false);
  for (unsigned seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    JournalHistory sender;
    JournalRecovery receiver;
    Synth truth, played;
    // Sequence numbers start near the wrap so every run crosses it.
    std::uint16_t seq = static_cast<std::uint16_t>(65500 + seed);
    bool gap = false;
    for (int packet = 0; packet < 300; ++packet, ++seq) {
      std::vector<MidiBytes> messages;
      const int count = pick(4);
      for (int i = 0; i < count; ++i) {
        const int ch = pick(3), kind = pick(20);
        if (kind < 8)
          messages.push_back(note_on(ch, 36 + pick(24), 1 + pick(127)));
        else if (kind < 16)
          messages.push_back(note_off(ch, 36 + pick(24)));
        else if (kind < 19)
          messages.push_back(control(ch, pick(8), pick(128)));
        else
          messages.push_back(control(ch, pick(2) == 0 ? 123 : 120, 0));
      }
      MidiBytes journal;
      if (!record_first) journal = sender.encode(seq);
      for (const auto& m : messages) {
        sender.record(seq, m);
        truth.play(m);
      }
      if (record_first) journal = sender.encode(seq);
      if (pick(4) == 0) { // lost
        gap = true;
        continue;
      }
      // No journal: the sender had nothing the receiver lacks (the J bit would be 0).
      if (gap && !journal.empty()) {
        const auto recovery = receiver.recover(journal);
        INFO(hex(journal));
        REQUIRE_FALSE(recovery.malformed);
        for (const auto& m : recovery.messages)
          played.play(m);
      }
      gap = false;
      for (const auto& m : messages) {
        receiver.observe(m);
        played.play(m);
      }
      if (pick(3) == 0) sender.acknowledge(seq); // RS: everything up to here is in
    }
    // A journal-only packet that gets through.
    if (const MidiBytes last = sender.encode(seq); !last.empty()) {
      for (const auto& m : receiver.recover(last).messages)
        played.play(m);
    }
    INFO("seed " << seed);
    for (int c = 0; c < 16; ++c) {
      CHECK(played.sounding[static_cast<std::size_t>(c)] ==
            truth.sounding[static_cast<std::size_t>(c)]);
      CHECK(played.controller[static_cast<std::size_t>(c)] ==
            truth.controller[static_cast<std::size_t>(c)]);
    }
  }
}

TEST_CASE("every truncation of a journal is either whole or malformed, and applies nothing") {
  JournalHistory sender;
  sender.record(1, note_on(0, 60, 100));
  sender.record(1, control(0, 7, 3));
  sender.record(2, note_off(9, 36));
  sender.record(2, note_on(9, 38, 50));
  const MidiBytes encoded = sender.encode(3);
  for (const MidiBytes& journal : {encoded, every_chapter}) {
    for (std::size_t size = 0; size < journal.size(); ++size) {
      const std::span<const std::uint8_t> prefix(journal.data(), size);
      JournalRecovery receiver;
      receiver.observe(note_on(0, 60, 100));
      receiver.observe(note_on(1, 64, 100));
      receiver.observe(note_on(9, 36, 100));
      const auto recovery = receiver.recover(prefix);
      CHECK(recovery.malformed == !is_valid_journal(prefix));
      if (recovery.malformed) {
        CHECK(recovery.messages.empty());
        // Nothing applied: the whole journal still recovers the same as on a fresh receiver.
        JournalRecovery fresh;
        fresh.observe(note_on(0, 60, 100));
        fresh.observe(note_on(1, 64, 100));
        fresh.observe(note_on(9, 36, 100));
        CHECK(receiver.recover(journal).messages == fresh.recover(journal).messages);
      }
    }
    // These two carry channel journals: no proper prefix of them is whole.
    for (std::size_t size = 0; size < journal.size(); ++size)
      CHECK_FALSE(is_valid_journal(std::span<const std::uint8_t>(journal.data(), size)));
  }
}

TEST_CASE("lengths that disagree with the chapters are malformed") {
  const MidiBytes good{0xa0, 0x00, 0x64, 0x90, 0x08, 0x08, 0x81, 0x77, 0xbc, 0xe4, 0x02};
  REQUIRE(is_valid_journal(good));
  auto with = [&good](std::size_t at, std::uint8_t value) {
    MidiBytes j = good;
    j[at] = value;
    return j;
  };
  CHECK_FALSE(is_valid_journal(with(4, 0x07))); // LENGTH one short of the chapters
  CHECK_FALSE(is_valid_journal(with(4, 0x09))); // LENGTH past the end
  CHECK_FALSE(is_valid_journal(with(4, 0x02))); // LENGTH shorter than its own header
  CHECK_FALSE(is_valid_journal(with(3, 0x93))); // LENGTH 776
  CHECK_FALSE(is_valid_journal(with(6, 0x82))); // two note logs, room for one
  CHECK_FALSE(is_valid_journal(with(7, 0x78))); // two OFFBITS octets, room for one
  CHECK_FALSE(is_valid_journal(with(5, 0x48))); // a chapter C that is not there
  // LOW > HIGH: (15, 0) and (15, 1) say "no OFFBITS" (then LENGTH is one too long), any
  // other such pair is forbidden.
  MidiBytes no_offbits = good;
  no_offbits[4] = 0x07;
  no_offbits.pop_back();
  no_offbits[7] = 0xf0;
  CHECK(is_valid_journal(no_offbits));
  no_offbits[7] = 0xf1;
  CHECK(is_valid_journal(no_offbits));
  no_offbits[7] = 0xf2;
  CHECK_FALSE(is_valid_journal(no_offbits));
  no_offbits[7] = 0x87;
  CHECK_FALSE(is_valid_journal(no_offbits));
  CHECK_FALSE(is_valid_journal(with(0, 0xa1))); // TOTCHAN says two channel journals
  CHECK_FALSE(is_valid_journal(with(0, 0xe0))); // a system journal that is not there
  // With A = 0 the channel journals are not read, and octets after the last one are ignored.
  CHECK(is_valid_journal(with(0, 0x80)));
  MidiBytes padded = good;
  padded.push_back(0);
  CHECK(is_valid_journal(padded));
  // A chapter M whose LENGTH is shorter than its header.
  CHECK_FALSE(is_valid_journal(MidiBytes{0x20, 0, 0, 0x00, 0x05, 0x20, 0x80, 0x01}));
  CHECK(is_valid_journal(MidiBytes{0x20, 0, 0, 0x00, 0x05, 0x20, 0x80, 0x02}));
  // A system journal whose LENGTH is shorter than its header.
  CHECK_FALSE(is_valid_journal(MidiBytes{0x40, 0, 0, 0x00, 0x01}));
  CHECK(is_valid_journal(MidiBytes{0x40, 0, 0, 0x00, 0x02}));
  CHECK_FALSE(is_valid_journal(MidiBytes{}));
  CHECK_FALSE(is_valid_journal(MidiBytes{0x00, 0x00}));
  CHECK(is_valid_journal(MidiBytes{0x00, 0x00, 0x00})); // the empty journal
}

TEST_CASE("random buffers never crash the parser") {
  std::mt19937 rng(6295);
  int valid = 0;
  for (int i = 0; i < 10000; ++i) {
    MidiBytes buffer(rng() % 48);
    for (auto& b : buffer)
      b = static_cast<std::uint8_t>(rng());
    // Mostly channel journals of plausible lengths, so the parser gets past the headers.
    if (buffer.size() > 5 && rng() % 2 == 0) {
      buffer[0] = static_cast<std::uint8_t>(0x20 | (buffer[0] & 0x01));
      buffer[3] &= 0xfc;
      buffer[4] = static_cast<std::uint8_t>(3 + rng() % (buffer.size() - 2));
    }
    JournalRecovery receiver;
    const auto recovery = receiver.recover(buffer);
    CHECK(recovery.malformed == !is_valid_journal(buffer));
    if (!recovery.malformed) ++valid;
  }
  CHECK(valid > 100); // the parser was exercised past the headers, not only refused
}
