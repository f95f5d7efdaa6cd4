// libFuzzer target: one rtpmidi::Session driven by a script read from the input: datagrams from
// four remote hosts on our control or data port, time steps with tick(), MIDI to send, an
// invitation, leave(). Invariants: counters never decrease; events follow the participants'
// lives (joined before MIDI, left only once joined); every MIDI message played is complete;
// every datagram the session sends decodes.
// The script is read as session_script.hpp describes.

#include "check.hpp"
#include "midi/midi_message.hpp"
#include "rtpmidi/session.hpp"
#include "session_script.hpp"

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <variant>

using namespace midimesh;
using namespace midimesh::rtpmidi;

namespace {

class Reader {
public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  std::uint8_t byte() { return done() ? 0 : bytes_[pos_++]; }
  std::span<const std::uint8_t> take(std::size_t n) {
    n = std::min(n, bytes_.size() - pos_);
    const auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

bool no_decrease(const SessionCounters& before, const SessionCounters& after) {
  return after.malformed >= before.malformed && after.unknown_ssrc >= before.unknown_ssrc &&
         after.version_mismatch >= before.version_mismatch && after.refused >= before.refused &&
         after.lost >= before.lost && after.recovered >= before.recovered &&
         after.sysex_dropped >= before.sysex_dropped && after.packets_in >= before.packets_in &&
         after.packets_out >= before.packets_out;
}

class Harness {
public:
  Harness() : session_(fuzz::session_config()) {}

  void step(Reader& in) {
    const std::uint8_t op = in.byte();
    const unsigned arg = op >> 3;
    switch (op & 7) {
    case 0:
    case 1: {
      const Port port = (op & 1) ? Port::data : Port::control;
      const auto bytes = in.take(in.byte());
      session_.on_datagram(port, fuzz::host(arg & 3, port), bytes, now_us_);
      break;
    }
    case 2:
      now_us_ += std::uint64_t{in.byte()} * 1000 * (arg + 1);
      session_.tick(now_us_);
      break;
    case 3: {
      const auto message = in.take(in.byte());
      if (midi::is_complete_message(message)) session_.send(message, std::nullopt);
      session_.flush(now_us_);
      break;
    }
    case 4:
      session_.invite(fuzz::host(arg & 3, Port::control), now_us_, arg >> 2);
      break;
    case 5:
      if (arg == 31) session_.leave();
      break;
    default:
      session_.tick(now_us_);
    }
    verify();
  }

private:
  void verify() {
    FUZZ_CHECK(no_decrease(counters_, session_.counters()));
    counters_ = session_.counters();
    for (const SessionEvent& event : session_.take_events()) {
      if (const auto* e = std::get_if<ParticipantJoined>(&event)) {
        FUZZ_CHECK(joined_.insert(e->ssrc).second);
      } else if (const auto* e = std::get_if<ParticipantMidi>(&event)) {
        FUZZ_CHECK(joined_.count(e->ssrc) == 1);
        FUZZ_CHECK(midi::is_complete_message(e->message));
      } else if (const auto* e = std::get_if<ParticipantLeft>(&event)) {
        FUZZ_CHECK(joined_.erase(e->ssrc) == 1);
      }
    }
    for (const Datagram& d : session_.take_datagrams()) {
      if (is_session_packet(d.bytes)) {
        FUZZ_CHECK(bool(decode_session(d.bytes)));
      } else {
        FUZZ_CHECK(d.port == Port::data);
        const DecodedRtp rtp = decode_midi_packet(d.bytes);
        FUZZ_CHECK(bool(rtp));
        FUZZ_CHECK(!rtp.packet->has_journal || is_valid_journal(rtp.packet->journal));
      }
    }
    std::size_t joined = 0;
    for (const ParticipantInfo& p : session_.participants())
      joined += joined_.count(p.ssrc);
    FUZZ_CHECK(joined == joined_.size());
  }

  Session session_;
  SessionCounters counters_;
  std::set<std::uint32_t> joined_;
  std::uint64_t now_us_ = fuzz::start_us;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in({data, size});
  Harness harness;
  while (!in.done())
    harness.step(in);
  return 0;
}
