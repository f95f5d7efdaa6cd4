#include "rtpmidi/recovery_journal.hpp"

#include <algorithm>
#include <cstddef>

// Layouts (RFC 6295 section 5 and appendices A, B); all fields big-endian.
//   journal header   |S|Y|A|H|TOTCHAN|  checkpoint seqnum (16)  |     TOTCHAN = channels - 1
//   system journal   |S|D|V|Q|F|X| LENGTH (10) | ...                 LENGTH counts the header
//   channel journal  |S| CHAN |H| LENGTH (10) |P|C|M|W|N|E|T|A|      LENGTH counts the header
//   chapters, in TOC order:
//     P  3 octets; W  2 octets; T  1 octet
//     C  |S| LEN |, then LEN + 1 logs |S| NUMBER |A| VALUE |
//     M  |S|P|E|U|W|Z| LENGTH (10) | ...                         LENGTH counts the chapter
//     N  |B| LEN |LOW|HIGH|, LEN logs |S| NOTENUM |Y| VELOCITY |, then HIGH - LOW + 1 OFFBITS
//        octets when LOW <= HIGH (octet i: notes 8i..8i+7, the high bit the lowest note);
//        (LOW, HIGH) = (15, 0) or (15, 1): no OFFBITS; LEN = 127 with (15, 0) means 128 logs
//     E  |S| LEN |, then LEN + 1 logs of 2 octets
//     A  |S| LEN |, then LEN + 1 logs of 2 octets

namespace midimesh::rtpmidi {
namespace {

constexpr std::uint8_t toc_p = 0x80, toc_c = 0x40, toc_m = 0x20, toc_w = 0x10, toc_n = 0x08,
                       toc_e = 0x04, toc_t = 0x02, toc_a = 0x01;

// The mode messages that silence every note of their channel.
bool silences_channel(std::uint8_t controller) noexcept {
  return controller == 120 || controller >= 123;
}

// Packets since `seq` as of `now`, in 16-bit sequence arithmetic.
std::uint16_t age(std::uint16_t now, std::uint16_t seq) noexcept {
  return static_cast<std::uint16_t>(now - seq);
}

// What one channel journal says, the parts recovery uses.
struct ChannelState {
  std::uint8_t channel = 0;
  std::bitset<128> note_off;                     // OFFBITS
  std::bitset<128> note_on;                      // note logs with Y = 1
  std::array<std::uint8_t, 128> note_velocity{}; // of those logs
  std::bitset<128> controller_set;               // chapter C logs in the value form
  std::array<std::uint8_t, 128> controller{};
};

class Reader {
public:
  explicit Reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}
  bool has(std::size_t n) const noexcept { return bytes_.size() - pos_ >= n; }
  std::size_t pos() const noexcept { return pos_; }
  std::uint8_t at(std::size_t offset) const noexcept { return bytes_[pos_ + offset]; }
  void skip(std::size_t n) noexcept { pos_ += n; }

private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

// Chapter N at the reader; false when it does not fit in `end`.
bool parse_chapter_n(Reader& in, std::size_t end, ChannelState* out) {
  if (in.pos() + 2 > end) return false;
  std::size_t logs = in.at(0) & 0x7f;
  const unsigned low = in.at(1) >> 4;
  const unsigned high = in.at(1) & 0x0f;
  if (logs == 127 && low == 15 && high == 0) logs = 128;
  // (15, 0) and (15, 1) are the only LOW > HIGH pairs, both "no OFFBITS"; others are
  // forbidden, so a journal holding one is not one we read right.
  if (low > high && !(low == 15 && high <= 1)) return false;
  const std::size_t offbits = low <= high ? high - low + 1 : 0;
  const std::size_t size = 2 + 2 * logs + offbits;
  if (in.pos() + size > end) return false;
  if (out != nullptr) {
    for (std::size_t i = 0; i < logs; ++i) {
      const std::uint8_t note = in.at(2 + 2 * i) & 0x7f;
      const std::uint8_t yv = in.at(3 + 2 * i);
      const std::uint8_t velocity = yv & 0x7f;
      // Y = 0: the sender advises against playing it late (a drum hit long gone).
      if ((yv & 0x80) != 0 && velocity != 0) {
        out->note_on.set(note);
        out->note_velocity[note] = velocity;
      }
    }
    for (std::size_t i = 0; i < offbits; ++i) {
      const std::uint8_t bits = in.at(2 + 2 * logs + i);
      for (unsigned b = 0; b < 8; ++b)
        if ((bits & (0x80u >> b)) != 0) out->note_off.set((low + i) * 8 + b);
    }
  }
  in.skip(size);
  return true;
}

// Chapter C at the reader; false when it does not fit in `end`.
bool parse_chapter_c(Reader& in, std::size_t end, ChannelState* out) {
  if (in.pos() + 1 > end) return false;
  const std::size_t logs = (in.at(0) & 0x7f) + 1;
  const std::size_t size = 1 + 2 * logs;
  if (in.pos() + size > end) return false;
  if (out != nullptr) {
    for (std::size_t i = 0; i < logs; ++i) {
      const std::uint8_t number = in.at(1 + 2 * i) & 0x7f;
      const std::uint8_t av = in.at(2 + 2 * i);
      // A = 1: toggle or count tools (pedals, mode messages); replaying them needs the
      // sender's history of the controller, which we do not have.
      if ((av & 0x80) != 0) continue;
      out->controller_set.set(number);
      out->controller[number] = av & 0x7f;
    }
  }
  in.skip(size);
  return true;
}

// A chapter made of a one-octet header and LEN + 1 logs of two octets (E, A).
bool skip_log_list(Reader& in, std::size_t end) {
  if (in.pos() + 1 > end) return false;
  const std::size_t size = 1 + 2 * ((in.at(0) & 0x7f) + 1);
  if (in.pos() + size > end) return false;
  in.skip(size);
  return true;
}

bool skip_fixed(Reader& in, std::size_t end, std::size_t size) {
  if (in.pos() + size > end) return false;
  in.skip(size);
  return true;
}

// Chapter M codes its own length (10 bits, header included).
bool skip_chapter_m(Reader& in, std::size_t end) {
  if (in.pos() + 2 > end) return false;
  const std::size_t length = static_cast<std::size_t>(in.at(0) & 0x03) << 8 | in.at(1);
  const std::size_t header = (in.at(0) & 0x40) != 0 ? 3 : 2; // P: a PENDING octet follows
  if (length < header) return false;
  return skip_fixed(in, end, length);
}

// Parses the whole journal; `channels` (when not null) receives what the channel journals say.
// False when any length runs past the journal or disagrees with what it holds.
bool parse_journal(std::span<const std::uint8_t> journal, std::vector<ChannelState>* channels) {
  Reader in(journal);
  if (!in.has(3)) return false;
  const std::uint8_t header = in.at(0);
  in.skip(3);
  if ((header & 0x40) != 0) { // Y: the system journal, which we skip whole
    if (!in.has(2)) return false;
    const std::size_t length = static_cast<std::size_t>(in.at(0) & 0x03) << 8 | in.at(1);
    if (length < 2 || !in.has(length)) return false;
    in.skip(length);
  }
  if ((header & 0x20) == 0) return true; // A = 0: no channel journals
  const unsigned count = (header & 0x0f) + 1u;
  for (unsigned c = 0; c < count; ++c) {
    if (!in.has(3)) return false;
    const std::size_t length = static_cast<std::size_t>(in.at(0) & 0x03) << 8 | in.at(1);
    if (length < 3 || !in.has(length)) return false;
    const std::size_t end = in.pos() + length;
    ChannelState state;
    state.channel = (in.at(0) >> 3) & 0x0f;
    const std::uint8_t toc = in.at(2);
    in.skip(3);
    ChannelState* out = channels != nullptr ? &state : nullptr;
    if ((toc & toc_p) != 0 && !skip_fixed(in, end, 3)) return false;
    if ((toc & toc_c) != 0 && !parse_chapter_c(in, end, out)) return false;
    if ((toc & toc_m) != 0 && !skip_chapter_m(in, end)) return false;
    if ((toc & toc_w) != 0 && !skip_fixed(in, end, 2)) return false;
    if ((toc & toc_n) != 0 && !parse_chapter_n(in, end, out)) return false;
    if ((toc & toc_e) != 0 && !skip_log_list(in, end)) return false;
    if ((toc & toc_t) != 0 && !skip_fixed(in, end, 1)) return false;
    if ((toc & toc_a) != 0 && !skip_log_list(in, end)) return false;
    // The chapters must fill the channel journal exactly: anything else means we misread it.
    if (in.pos() != end) return false;
    if (channels != nullptr) channels->push_back(state);
  }
  // Octets after the last channel journal are ignored: the journal ends the packet, and a
  // sender padding it breaks nothing we read.
  return true;
}

void put16(MidiBytes& out, std::size_t at, std::size_t value) {
  out[at] = static_cast<std::uint8_t>(out[at] | ((value >> 8) & 0x03));
  out[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

} // namespace

void JournalHistory::record(std::uint16_t seq, std::span<const std::uint8_t> message) {
  if (message.size() < 3) return; // notes and controllers have two data octets
  const std::uint8_t kind = message[0] & 0xf0;
  Channel& ch = channels_[message[0] & 0x0f];
  const std::uint8_t number = message[1] & 0x7f;
  const std::uint8_t value = message[2] & 0x7f;
  if (kind == 0x90 && value != 0) {
    ch.note_on.set(number);
    ch.note_off.reset(number);
    ch.note_velocity[number] = value;
    ch.note_seq[number] = seq;
  } else if (kind == 0x80 || kind == 0x90) {
    ch.note_on.reset(number);
    ch.note_off.set(number);
    ch.note_velocity[number] = 0;
    ch.note_seq[number] = seq;
  } else if (kind == 0xb0 && silences_channel(number)) {
    // Notes sounding since before the last acknowledgement are no longer in the history, so
    // every note is marked off: the receiver releases what it still holds (16 OFFBITS octets).
    ch.note_on.reset();
    ch.note_off.set();
    ch.note_velocity.fill(0);
    ch.note_seq.fill(seq);
  } else if (kind == 0xb0 && number != 121) {
    // Reset All Controllers (121) is left out: its effect depends on the receiver's device.
    ch.controller_set.set(number);
    ch.controller[number] = value;
    ch.controller_seq[number] = seq;
  }
}

void JournalHistory::acknowledge(std::uint16_t seq) {
  // At or before `seq` in 16-bit arithmetic: less than half the sequence space behind it.
  // An entry older than that (no feedback for 32768 packets) is kept: a longer journal is the
  // safe side.
  const auto seen = [seq](std::uint16_t entry) { return age(seq, entry) < 0x8000; };
  for (Channel& ch : channels_) {
    for (std::size_t n = 0; n < 128; ++n) {
      if ((ch.note_on[n] || ch.note_off[n]) && seen(ch.note_seq[n])) {
        ch.note_on.reset(n);
        ch.note_off.reset(n);
        ch.note_velocity[n] = 0;
      }
      if (ch.controller_set[n] && seen(ch.controller_seq[n])) ch.controller_set.reset(n);
    }
  }
}

bool JournalHistory::empty() const noexcept {
  for (const Channel& ch : channels_)
    if (!ch.empty()) return false;
  return true;
}

MidiBytes JournalHistory::encode(std::uint16_t packet_seq) const {
  MidiBytes out{0, 0, 0};
  unsigned channel_count = 0;
  bool journal_recent = false;
  std::uint16_t oldest_age = 0;
  // A structure's S bit is 0 when it codes a command of packet I - 1 (RFC 6295 A.1): a
  // receiver that lost only that packet must read it.
  const auto recent = [packet_seq](std::uint16_t seq) { return age(packet_seq, seq) == 1; };
  const auto s_bit = [](bool recent_entry) { return recent_entry ? 0x00 : 0x80; };

  for (std::size_t c = 0; c < 16; ++c) {
    const Channel& ch = channels_[c];
    std::vector<std::uint8_t> note_logs, controller_logs;
    std::bitset<128> offbits;
    bool logs_recent = false, notes_recent = false;
    for (std::size_t n = 0; n < 128; ++n) {
      const std::uint8_t number = static_cast<std::uint8_t>(n);
      if ((ch.note_on[n] || ch.note_off[n]) && age(packet_seq, ch.note_seq[n]) != 0) {
        const bool r = recent(ch.note_seq[n]);
        notes_recent = notes_recent || r;
        oldest_age = std::max(oldest_age, age(packet_seq, ch.note_seq[n]));
        if (ch.note_on[n]) {
          note_logs.push_back(static_cast<std::uint8_t>(s_bit(r) | number));
          note_logs.push_back(static_cast<std::uint8_t>(0x80 | ch.note_velocity[n])); // Y = 1
        } else {
          offbits.set(n);
        }
      }
      if (ch.controller_set[n] && age(packet_seq, ch.controller_seq[n]) != 0) {
        const bool r = recent(ch.controller_seq[n]);
        logs_recent = logs_recent || r;
        oldest_age = std::max(oldest_age, age(packet_seq, ch.controller_seq[n]));
        controller_logs.push_back(static_cast<std::uint8_t>(s_bit(r) | number));
        controller_logs.push_back(ch.controller[n]); // A = 0: the value form
      }
    }
    if (note_logs.empty() && offbits.none() && controller_logs.empty()) continue;

    const std::size_t start = out.size();
    const bool channel_recent = logs_recent || notes_recent;
    std::uint8_t toc = 0;
    out.push_back(static_cast<std::uint8_t>(s_bit(channel_recent) | c << 3));
    out.push_back(0);
    out.push_back(0);
    if (!controller_logs.empty()) {
      toc |= toc_c;
      out.push_back(
          static_cast<std::uint8_t>(s_bit(logs_recent) | (controller_logs.size() / 2 - 1)));
      out.insert(out.end(), controller_logs.begin(), controller_logs.end());
    }
    if (!note_logs.empty() || offbits.any()) {
      toc |= toc_n;
      const std::size_t logs = note_logs.size() / 2;
      unsigned low = 15, high = 0;
      if (offbits.any()) {
        std::size_t first = 0, last = 127;
        while (!offbits[first])
          ++first;
        while (!offbits[last])
          --last;
        low = static_cast<unsigned>(first / 8);
        high = static_cast<unsigned>(last / 8);
      } else if (logs == 127) {
        high = 1; // (15, 0) with LEN 127 would mean 128 logs
      }
      // 128 logs: LEN 127 with (15, 0); every note is on, so there are no OFFBITS.
      const std::size_t len = logs == 128 ? 127 : logs;
      out.push_back(static_cast<std::uint8_t>(s_bit(notes_recent) | len));
      out.push_back(static_cast<std::uint8_t>(low << 4 | high));
      out.insert(out.end(), note_logs.begin(), note_logs.end());
      if (offbits.any()) {
        for (unsigned octet = low; octet <= high; ++octet) {
          std::uint8_t bits = 0;
          for (unsigned b = 0; b < 8; ++b)
            if (offbits[octet * 8 + b]) bits = static_cast<std::uint8_t>(bits | 0x80u >> b);
          out.push_back(bits);
        }
      }
    }
    out[start + 2] = toc;
    // At most 3 + 257 (C) + 2 + 256 + 16 (N) = 534 octets: LENGTH's 10 bits always suffice.
    put16(out, start, out.size() - start);
    journal_recent = journal_recent || channel_recent;
    ++channel_count;
  }
  if (channel_count == 0) return {};
  const std::uint16_t checkpoint = static_cast<std::uint16_t>(packet_seq - oldest_age);
  out[0] = static_cast<std::uint8_t>(s_bit(journal_recent) | 0x20 | (channel_count - 1));
  out[1] = static_cast<std::uint8_t>(checkpoint >> 8);
  out[2] = static_cast<std::uint8_t>(checkpoint & 0xff);
  return out;
}

void JournalRecovery::observe(std::span<const std::uint8_t> message) {
  if (message.size() < 3) return;
  const std::uint8_t kind = message[0] & 0xf0;
  Channel& ch = channels_[message[0] & 0x0f];
  const std::uint8_t number = message[1] & 0x7f;
  const std::uint8_t value = message[2] & 0x7f;
  if (kind == 0x90 && value != 0) {
    ch.sounding.set(number);
  } else if (kind == 0x80 || kind == 0x90) {
    ch.sounding.reset(number);
  } else if (kind == 0xb0 && silences_channel(number)) {
    ch.sounding.reset();
  } else if (kind == 0xb0) {
    ch.controller_known.set(number);
    ch.controller[number] = value;
  }
}

Recovery JournalRecovery::recover(std::span<const std::uint8_t> journal) {
  Recovery result;
  std::vector<ChannelState> parsed;
  if (!parse_journal(journal, &parsed)) {
    result.malformed = true;
    return result;
  }
  for (std::uint8_t c = 0; c < 16; ++c) {
    for (const ChannelState& cj : parsed) {
      if (cj.channel != c) continue;
      Channel& ch = channels_[c];
      const auto channel_status = [c](std::uint8_t kind) {
        return static_cast<std::uint8_t>(kind | c);
      };
      // Note-offs first, then controllers (a pedal or volume set before the notes it shapes),
      // then note-ons.
      for (std::uint8_t n = 0; n < 128; ++n) {
        if (cj.note_off[n] && ch.sounding[n]) {
          result.messages.push_back({channel_status(0x80), n, 0});
          ch.sounding.reset(n);
        }
      }
      for (std::uint8_t n = 0; n < 120; ++n) { // 120-127 are mode messages, not values
        if (!cj.controller_set[n]) continue;
        if (ch.controller_known[n] && ch.controller[n] == cj.controller[n]) continue;
        result.messages.push_back({channel_status(0xb0), n, cj.controller[n]});
        ch.controller_known.set(n);
        ch.controller[n] = cj.controller[n];
      }
      for (std::uint8_t n = 0; n < 128; ++n) {
        // A note both logged and in OFFBITS: which came last is not certain, and a missing
        // note is better than one left hanging.
        if (cj.note_on[n] && !cj.note_off[n] && !ch.sounding[n]) {
          result.messages.push_back({channel_status(0x90), n, cj.note_velocity[n]});
          ch.sounding.set(n);
        }
      }
    }
  }
  return result;
}

bool is_valid_journal(std::span<const std::uint8_t> journal) noexcept {
  return parse_journal(journal, nullptr);
}

} // namespace midimesh::rtpmidi
