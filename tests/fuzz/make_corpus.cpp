// Writes the seed corpora of the fuzz targets: valid inputs made by the product's own encoders,
// so that the fuzzers start from what real peers send. Run once, when a format changes:
//   build-fuzz/tests/fuzz/make_corpus tests/fuzz/corpus
// (tools/fuzz copies the corpus into the build directory before fuzzing; nothing writes here.)

#include "discovery/txt_record.hpp"
#include "rtpmidi/recovery_journal.hpp"
#include "rtpmidi/rtp_midi_packet.hpp"
#include "rtpmidi/session.hpp"
#include "rtpmidi/session_packet.hpp"
#include "session_script.hpp"
#include "wire/envelope.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

using namespace midimesh;
using namespace midimesh::rtpmidi;
using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, std::span<const std::uint8_t> b) {
  fs::create_directories(root / target);
  std::ofstream out(root / target / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write(const std::string& target, const std::string& name, const std::string& s) {
  write(target, name, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

const std::string sender = "0123456789abcdef";

void envelope_corpus() {
  wire::Hello hello;
  hello.name = "keys";
  hello.program = "midimesh 0.1.0";
  hello.hub = sender;
  hello.term = 3;
  hello.hub_port = 5555;
  hello.address = "192.168.1.20";
  wire::Hello bridged = hello;
  bridged.kind = "rtp";
  bridged.via = "fedcba9876543210";
  bridged.eligible = false;
  wire::Status status;
  status.name = "keys";
  status.role = "hub";
  status.midi_in = 10;
  status.rtt_us = 250;
  status.offset_us = -40;
  status.rtp_port = 5004;
  const wire::Ping ping{sender, 99};
  const wire::Pong pong{"fedcba9876543210", 99, 120};
  const wire::Goodbye goodbye{"quit"};

  const std::vector<std::pair<std::string, Bytes>> payloads = {
      {"hello", wire::encode_payload(hello)},   {"hello_rtp", wire::encode_payload(bridged)},
      {"status", wire::encode_payload(status)}, {"ping", wire::encode_payload(ping)},
      {"pong", wire::encode_payload(pong)},     {"goodbye", wire::encode_payload(goodbye)},
  };
  const wire::MessageType types[] = {wire::MessageType::hello,  wire::MessageType::hello,
                                     wire::MessageType::status, wire::MessageType::ping,
                                     wire::MessageType::pong,   wire::MessageType::goodbye};
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    write("fuzz_envelope", "payload_" + payloads[i].first, payloads[i].second);
    write("fuzz_envelope", "envelope_" + payloads[i].first,
          wire::encode(types[i], sender, 7 + i, 1'700'000'000'000'000, payloads[i].second));
  }
  write("fuzz_envelope", "envelope_beacon",
        wire::encode(wire::MessageType::hub_beacon, sender, 1, 2, payloads[0].second));
  const Bytes note{0x90, 60, 100};
  write("fuzz_envelope", "envelope_midi",
        wire::encode(wire::MessageType::midi, sender, 1, 2, note));
  Bytes sysex{0xf0};
  for (int i = 0; i < 40; ++i)
    sysex.push_back(static_cast<std::uint8_t>(i));
  sysex.push_back(0xf7);
  write("fuzz_envelope", "envelope_sysex",
        wire::encode(wire::MessageType::midi, sender, 0xffffffffffULL, 3, sysex));
  wire::Envelope future;
  future.version = 2;
  future.sender = sender;
  write("fuzz_envelope", "envelope_v2", wire::encode(future));
}

void txt_corpus() {
  discovery::NodeRecord node;
  node.id = sender;
  node.name = "keys";
  node.hub_id = "fedcba9876543210";
  node.term = 4;
  node.revision = 2;
  write("fuzz_txt_record", "node", discovery::txt_to_wire(discovery::encode_txt(node)));
  discovery::NodeRecord hub = node;
  hub.role = "hub";
  hub.hub_id = sender;
  hub.port = 5555;
  hub.priority = -3;
  write("fuzz_txt_record", "hub", discovery::txt_to_wire(discovery::encode_txt(hub)));
  discovery::NodeRecord observer = node;
  observer.role = "observer";
  observer.eligible = false;
  observer.mesh = "studio";
  write("fuzz_txt_record", "observer", discovery::txt_to_wire(discovery::encode_txt(observer)));
  write("fuzz_txt_record", "other_version",
        discovery::txt_to_wire({"proto=2", "id=" + sender, "mesh=default", "new=thing"}));
}

void rtp_packets_corpus() {
  const std::string t = "fuzz_rtp_packets";
  write(t, "session_in", encode(Invitation{Command::invitation, 2, 0x1111, 0xabcd, "Mac"}));
  write(t, "session_ok", encode(Invitation{Command::accepted, 2, 0x1111, 0xabcd, "iPad"}));
  write(t, "session_no", encode(Invitation{Command::rejected, 2, 0x1111, 0xabcd, ""}));
  write(t, "session_by", encode(Invitation{Command::bye, 2, 0x1111, 0xabcd, ""}));
  write(t, "session_ck0", encode(ClockSync{0xabcd, 0, {123456, 0, 0}}));
  write(t, "session_ck2", encode(ClockSync{0xabcd, 2, {123456, 123470, 123490}}));
  write(t, "session_rs", encode(ReceiverFeedback{0xabcd, 4242}));

  RtpHeader header;
  header.seq = 100;
  header.timestamp = 5000;
  header.ssrc = 0xabcd;
  const std::vector<MidiCommand> notes = {{0, {0x90, 60, 100}}, {10, {0x90, 64, 90}},
                                          {0, {0xb0, 7, 100}},  {5, {0xc0, 3}},
                                          {1, {0xf8}},          {2, {0x80, 60, 0}}};
  write(t, "rtp_notes", encode_midi_packet(header, notes));
  const std::vector<MidiCommand> segments = {{0, {0xf0, 1, 2, 3, 0xf0}},
                                             {0, {0xf7, 4, 5, 0xf0}},
                                             {0, {0xf7, 6, 0xf7}},
                                             {0, {0xf0, 1, 0xf4}}};
  write(t, "rtp_sysex", encode_midi_packet(header, segments));

  JournalHistory history;
  std::uint16_t seq = 90;
  for (const MidiCommand& c : notes)
    history.record(seq++, c.bytes);
  history.record(seq++, std::vector<std::uint8_t>{0x91, 30, 20});
  history.record(seq++, std::vector<std::uint8_t>{0xb1, 64, 127});
  const Bytes journal = history.encode(header.seq);
  write(t, "journal", journal);
  write(t, "rtp_journal", encode_midi_packet(header, {}, journal));
  write(t, "rtp_notes_journal", encode_midi_packet(header, notes, journal));
  // Running status inside the section, and a phantom first command (P flag) whose status ran in
  // the last packet; by hand, since the encoder always sends every status.
  write(t, "rtp_running",
        Bytes{0x80, 0x61, 0, 1, 0, 0, 0, 9, 0, 0, 0xab, 0xcd, 0x07, 0x90, 60, 100, 0x00, 62, 100});
  write(t, "rtp_phantom",
        Bytes{0x80, 0x61, 0, 2, 0, 0, 0, 9, 0, 0, 0xab, 0xcd, 0x15, 60, 0, 0x00, 62, 0});
  // For the SysEx assembler: length-prefixed commands.
  write(t, "sysex_segments", Bytes{0x08, 5,    0xf0, 1,    2, 3,    0xf0, 4,    0xf7, 4,
                                   5,    0xf0, 3,    0xf7, 6, 0xf7, 3,    0xf0, 1,    0xf7});
  // For the sender's journal: channel messages in threes.
  write(t, "history",
        Bytes{0x10, 60, 100, 0x10, 62, 90, 0x31, 7, 100, 0x00, 0xbc, 0, 0x32, 123, 0, 0x12, 40, 1});
}

// Our session as the fuzz target runs it, and a real peer session at host 0: every datagram the
// peer sends is written into the script and delivered, so the script replays a conversation.
class Conversation {
public:
  explicit Conversation(SessionConfig peer_config) : peer_(std::move(peer_config)) {}

  Session& peer() { return peer_; }

  // Delivers what both sides sent until they are quiet; the peer's datagrams are recorded
  // unless `lose_rtp` drops its RTP packets on the way.
  void exchange(bool lose_rtp = false) {
    for (int round = 0; round < 10; ++round) {
      bool any = false;
      for (Datagram& d : peer_.take_datagrams()) {
        any = true;
        if (lose_rtp && !is_session_packet(d.bytes)) continue;
        if (d.bytes.size() > 255) throw std::runtime_error("datagram too long for the script");
        script_.push_back(d.port == Port::control ? 0 : 1);
        script_.push_back(static_cast<std::uint8_t>(d.bytes.size()));
        script_.insert(script_.end(), d.bytes.begin(), d.bytes.end());
        ours_.on_datagram(d.port, fuzz::host(0, d.port), d.bytes, now_us_);
      }
      for (Datagram& d : ours_.take_datagrams()) {
        any = true;
        const Endpoint from{"10.0.0.99",
                            static_cast<std::uint16_t>(d.port == Port::control ? 5004 : 5005)};
        if (d.to.host == "10.0.0.1") peer_.on_datagram(d.port, from, d.bytes, now_us_);
      }
      if (!any) break;
    }
  }
  // Time passes (in steps of at most 255 ms), both tick.
  void wait(std::uint64_t ms) {
    while (ms > 0) {
      const std::uint64_t step = std::min<std::uint64_t>(ms, 255);
      ms -= step;
      script_.push_back(2);
      script_.push_back(static_cast<std::uint8_t>(step));
      now_us_ += step * 1000;
      ours_.tick(now_us_);
      peer_.tick(now_us_);
      exchange();
    }
  }
  // Time passes and the peer says nothing (a laptop closed): only we tick.
  void wait_alone(std::uint64_t ms) {
    while (ms > 0) {
      const std::uint64_t step = std::min<std::uint64_t>(ms, 255);
      ms -= step;
      script_.push_back(2);
      script_.push_back(static_cast<std::uint8_t>(step));
      now_us_ += step * 1000;
      ours_.tick(now_us_);
      ours_.take_datagrams();
    }
  }
  // The peer sends MIDI to us.
  void peer_sends(const Bytes& message, bool lost = false) {
    peer_.send(message, std::nullopt);
    peer_.flush(now_us_);
    exchange(lost);
  }
  // We send MIDI to the peer (a script operation of its own).
  void we_send(const Bytes& message) {
    script_.push_back(3);
    script_.push_back(static_cast<std::uint8_t>(message.size()));
    script_.insert(script_.end(), message.begin(), message.end());
    ours_.send(message, std::nullopt);
    ours_.flush(now_us_);
    exchange();
  }
  void we_invite() {
    script_.push_back(4);
    ours_.invite(fuzz::host(0, Port::control), now_us_, 0);
    exchange();
  }
  void peer_invites() {
    peer_.invite(Endpoint{"10.0.0.99", 5004}, now_us_, 0);
    exchange();
  }
  void raw(Port port, const Bytes& bytes) {
    script_.push_back(port == Port::control ? 0 : 1);
    script_.push_back(static_cast<std::uint8_t>(bytes.size()));
    script_.insert(script_.end(), bytes.begin(), bytes.end());
    ours_.on_datagram(port, fuzz::host(0, port), bytes, now_us_);
    exchange();
  }
  // What the script makes our session do, to see that a seed reaches the states it is for.
  const Bytes& script(const char* name) {
    std::size_t joined = 0, midi = 0, recovered = 0, left = 0;
    for (const SessionEvent& e : ours_.take_events()) {
      joined += std::holds_alternative<ParticipantJoined>(e);
      left += std::holds_alternative<ParticipantLeft>(e);
      if (const auto* m = std::get_if<ParticipantMidi>(&e)) (m->recovered ? recovered : midi)++;
    }
    const SessionCounters& n = ours_.counters();
    std::printf("%s: %zu bytes, joined %zu, MIDI %zu, recovered %zu, left %zu, lost %llu, "
                "malformed %llu, refused %llu\n",
                name, script_.size(), joined, midi, recovered, left,
                static_cast<unsigned long long>(n.lost),
                static_cast<unsigned long long>(n.malformed),
                static_cast<unsigned long long>(n.refused));
    return script_;
  }

private:
  Session ours_{fuzz::session_config()};
  Session peer_;
  std::uint64_t now_us_ = fuzz::start_us;
  Bytes script_;
};

SessionConfig peer_config() {
  SessionConfig config;
  config.name = "peer";
  config.ssrc = 0xabcdef01;
  config.max_packet_midi = 100;
  return config;
}

void rtp_session_corpus() {
  const std::string t = "fuzz_rtp_session";
  {
    // The peer invites us, plays, loses packets (recovered from the journal), says BY.
    Conversation c(peer_config());
    c.peer_invites();
    c.wait(300);
    c.peer_sends({0x90, 60, 100});
    c.we_send({0x91, 40, 90});
    c.peer_sends({0x90, 64, 100}, true);
    c.peer_sends({0xb0, 7, 90}, true);
    c.peer_sends({0x80, 60, 0});
    c.wait(600);
    c.peer().leave();
    c.exchange();
    write(t, "peer_invites", c.script("peer_invites"));
  }
  {
    // We invite the peer; MIDI both ways, a SysEx in segments, then the peer falls silent.
    Conversation c(peer_config());
    c.we_invite();
    c.wait(100);
    Bytes sysex{0xf0};
    for (int i = 0; i < 150; ++i)
      sysex.push_back(static_cast<std::uint8_t>(i & 0x7f));
    sysex.push_back(0xf7);
    c.peer_sends(sysex);
    c.we_send({0x90, 61, 1});
    c.we_send({0xf0, 1, 2, 0xf7});
    c.wait(1000);
    c.wait_alone(5000);
    write(t, "we_invite", c.script("we_invite"));
  }
  {
    // Refusals: another version, a data invitation out of nowhere, RTP from a stranger.
    Conversation c(peer_config());
    c.raw(Port::control, encode(Invitation{Command::invitation, 3, 1, 0x55, "v3"}));
    c.raw(Port::data, encode(Invitation{Command::invitation, 2, 1, 0x56, "data"}));
    RtpHeader header;
    header.ssrc = 0x57;
    c.raw(Port::data, encode_midi_packet(header, std::vector<MidiCommand>{{0, {0x90, 1, 1}}}));
    c.raw(Port::control, Bytes{0xff, 0xff, 'C', 'K'});
    write(t, "refusals", c.script("refusals"));
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIRECTORY\n");
    return 2;
  }
  root = argv[1];
  envelope_corpus();
  txt_corpus();
  rtp_packets_corpus();
  rtp_session_corpus();
  return 0;
}
