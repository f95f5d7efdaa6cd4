// The AppleMIDI session on simulated time: two or three Session objects wired together in memory
// (each one's datagrams handed to the other's on_datagram, addressed by Endpoint), with chosen
// datagrams dropped to simulate loss; and scripted peers that send hand-made packets, one of them
// replaying what the npm rtpmidi package does. No sockets, no sleeps.

#include "rtpmidi/session.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

using namespace midimesh::rtpmidi;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint16_t control_port = 5004;
constexpr std::uint64_t ms = 1'000;
constexpr std::uint64_t s = 1'000'000;

Endpoint control_of(const std::string& host) {
  return {host, control_port};
}
Endpoint data_of(const std::string& host) {
  return {host, control_port + 1};
}

SessionConfig config_for(const std::string& name, std::uint32_t ssrc) {
  SessionConfig config;
  config.name = name;
  config.ssrc = ssrc;
  return config;
}

struct Node {
  Node(std::string host_, std::uint32_t ssrc, SessionConfig config = {})
      : host(std::move(host_)), session([&] {
          config.name = "session " + host;
          config.ssrc = ssrc;
          return config;
        }()) {}
  std::string host;
  Session session;
  std::vector<SessionEvent> events;
  std::uint32_t ssrc() const { return session.config().ssrc; }
};

template <class T> std::vector<T> events_of(const std::vector<SessionEvent>& events) {
  std::vector<T> out;
  for (const auto& event : events)
    if (const T* e = std::get_if<T>(&event)) out.push_back(*e);
  return out;
}

// MIDI a node received, as played: recovered or not.
std::vector<Bytes> played(const Node& node, bool recovered) {
  std::vector<Bytes> out;
  for (const auto& m : events_of<ParticipantMidi>(node.events))
    if (m.recovered == recovered) out.push_back(m.message);
  return out;
}
std::vector<Bytes> played(const Node& node) {
  std::vector<Bytes> out;
  for (const auto& m : events_of<ParticipantMidi>(node.events))
    out.push_back(m.message);
  return out;
}

struct Sent {
  std::string from;
  Datagram datagram;
  std::uint64_t at = 0;
  bool dropped = false;
};

bool is_rtp(const Datagram& d) {
  return !is_session_packet(d.bytes);
}

std::optional<SessionPacket> session_packet(const Datagram& d) {
  return decode_session(d.bytes).packet;
}
bool is_command(const Datagram& d, Command command) {
  const auto packet = session_packet(d);
  if (!packet) return false;
  const auto* invitation = std::get_if<Invitation>(&*packet);
  return invitation && invitation->command == command;
}
bool is_clock(const Datagram& d, int count) {
  const auto packet = session_packet(d);
  if (!packet) return false;
  const auto* clock = std::get_if<ClockSync>(&*packet);
  return clock && clock->count == count;
}
bool is_feedback(const Datagram& d) {
  const auto packet = session_packet(d);
  return packet && std::holds_alternative<ReceiverFeedback>(*packet);
}

// Sessions at hosts of their own, control port 5004 and data port 5005 each; delivery is
// instant unless a test moves datagrams itself.
struct Net {
  std::vector<Node*> nodes;
  std::uint64_t now = 10 * s;
  std::function<bool(const Sent&)> drop = [](const Sent&) { return false; };
  std::vector<Sent> log;

  Node* find(const std::string& host) {
    for (Node* n : nodes)
      if (n->host == host) return n;
    return nullptr;
  }
  void collect_events() {
    for (Node* n : nodes) {
      auto events = n->session.take_events();
      n->events.insert(n->events.end(), events.begin(), events.end());
    }
  }
  void deliver() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (Node* n : nodes) {
        for (Datagram& d : n->session.take_datagrams()) {
          any = true;
          log.push_back({n->host, d, now});
          if (drop(log.back())) {
            log.back().dropped = true;
            continue;
          }
          Node* to = find(d.to.host);
          if (!to) continue;
          const Endpoint from = d.port == Port::control ? control_of(n->host) : data_of(n->host);
          to->session.on_datagram(d.to.port == control_port ? Port::control : Port::data, from,
                                  d.bytes, now);
        }
      }
      collect_events();
      if (!any) return;
    }
    FAIL("datagrams never stop");
  }
  // Runs every timer due until now + us, in steps from one wake-up to the next.
  void run_for(std::uint64_t us) {
    const std::uint64_t end = now + us;
    for (int steps = 0;; ++steps) {
      REQUIRE(steps < 100'000);
      for (Node* n : nodes) {
        n->session.flush(now);
        n->session.tick(now);
      }
      deliver();
      if (now >= end) return;
      std::uint64_t next = end;
      for (Node* n : nodes) {
        const std::uint64_t wakeup = n->session.next_wakeup_us();
        if (wakeup != 0) next = std::min(next, std::max(wakeup, now + 1));
      }
      now = next;
    }
  }
  std::vector<Sent> sent_by(const std::string& host,
                            const std::function<bool(const Datagram&)>& what) const {
    std::vector<Sent> out;
    for (const Sent& sent : log)
      if (sent.from == host && what(sent.datagram)) out.push_back(sent);
    return out;
  }
};

const Bytes note_on_60{0x90, 60, 100};
const Bytes note_off_60{0x80, 60, 0};
const Bytes note_on_62{0x90, 62, 90};
const Bytes clock_tick{0xf8};

Bytes big_sysex(std::size_t size) {
  Bytes sysex(size);
  sysex.front() = 0xf0;
  for (std::size_t i = 1; i + 1 < size; ++i)
    sysex[i] = static_cast<std::uint8_t>(i % 128);
  sysex.back() = 0xf7;
  return sysex;
}

void join(Net& net, Node& inviter, Node& invited, unsigned attempts = 0) {
  inviter.session.invite(control_of(invited.host), net.now, attempts);
  net.run_for(10 * ms);
}

// A remote participant played by hand: it sends hand-made packets from its two ports and reads
// what the session sends it.
struct Script {
  Script(Session& session_, std::uint64_t& now_, std::string host_ = "script")
      : session(session_), now(now_), host(std::move(host_)) {}
  Session& session;
  std::uint64_t& now;
  std::string host;
  std::uint32_t ssrc = 0x5c41'9700;
  std::uint32_t token = 0x70c3'0001;
  std::vector<Datagram> received;

  void send(Port port, const Bytes& bytes) {
    session.on_datagram(port, port == Port::control ? control_of(host) : data_of(host), bytes, now);
    for (Datagram& d : session.take_datagrams())
      received.push_back(std::move(d));
  }
  void invite(Port port, std::uint32_t version = apple_midi_version) {
    send(port, encode(Invitation{Command::invitation, version, token, ssrc, "script"}));
  }
  void join() {
    invite(Port::control);
    invite(Port::data);
  }
  void midi(std::uint16_t seq, std::vector<Bytes> messages, const Bytes& journal = {}) {
    std::vector<MidiCommand> commands;
    for (auto& m : messages)
      commands.push_back(MidiCommand{0, std::move(m)});
    send(Port::data, encode_midi_packet(RtpHeader{seq, static_cast<std::uint32_t>(now / 100), ssrc},
                                        commands, journal));
  }
  std::vector<Datagram> take() { return std::exchange(received, {}); }
};

std::size_t count(const std::vector<Datagram>& datagrams,
                  const std::function<bool(const Datagram&)>& what) {
  return static_cast<std::size_t>(std::count_if(datagrams.begin(), datagrams.end(), what));
}

} // namespace

TEST_CASE("an invitation joins both sessions, in either direction", "[rtp_session]") {
  const bool a_invites = GENERATE(true, false);
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  Node& inviter = a_invites ? a : b;
  Node& invited = a_invites ? b : a;
  join(net, inviter, invited, 3);

  const auto joined_inviter = events_of<ParticipantJoined>(inviter.events);
  const auto joined_invited = events_of<ParticipantJoined>(invited.events);
  REQUIRE(joined_inviter.size() == 1);
  REQUIRE(joined_invited.size() == 1);
  CHECK(joined_inviter[0].ssrc == invited.ssrc());
  CHECK(joined_inviter[0].name == "session " + invited.host);
  CHECK(joined_inviter[0].we_invited);
  CHECK(joined_inviter[0].control == control_of(invited.host));
  CHECK(joined_invited[0].ssrc == inviter.ssrc());
  CHECK_FALSE(joined_invited[0].we_invited);

  const auto participants = inviter.session.participants();
  REQUIRE(participants.size() == 1);
  CHECK(participants[0].data == data_of(invited.host));
  CHECK(participants[0].we_invited);
  REQUIRE(invited.session.participants().size() == 1);
  CHECK(invited.session.participants()[0].control == control_of(inviter.host));

  // The inviter starts the clock sync as soon as it is joined.
  const auto ck0 = net.sent_by(inviter.host, [](auto& d) { return is_clock(d, 0); });
  REQUIRE_FALSE(ck0.empty());
  CHECK(ck0[0].datagram.to == data_of(invited.host));

  // Joined for good: clock sync keeps both alive well past the peer timeout.
  net.run_for(20 * s);
  CHECK(events_of<ParticipantLeft>(a.events).empty());
  CHECK(events_of<ParticipantLeft>(b.events).empty());
  CHECK(events_of<InvitationFailed>(inviter.events).empty());
  CHECK(a.session.counters().malformed == 0);
  CHECK(b.session.counters().malformed == 0);
}

TEST_CASE("clock sync is answered and measures the round trip", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);
  net.log.clear();

  // The next CK0 travels 2 ms to b, the answer 3 ms back.
  std::uint64_t t = a.session.next_wakeup_us();
  REQUIRE(t > net.now);
  REQUIRE(t <= net.now + a.session.config().ck_interval_us);
  t = net.now + a.session.config().ck_interval_us;
  a.session.tick(t);
  auto out = a.session.take_datagrams();
  REQUIRE(count(out, [](auto& d) { return is_clock(d, 0); }) == 1);
  for (auto& d : out)
    b.session.on_datagram(Port::data, data_of("a"), d.bytes, t + 2 * ms);
  auto answers = b.session.take_datagrams();
  REQUIRE(answers.size() == 1);
  CHECK(is_clock(answers[0], 1));
  CHECK(answers[0].port == Port::data);
  CHECK(answers[0].to == data_of("a"));
  const auto ck1 = std::get<ClockSync>(*session_packet(answers[0]));
  CHECK(ck1.ssrc == b.ssrc());
  CHECK(ck1.timestamps[0] == t / 100);
  CHECK(ck1.timestamps[1] == (t + 2 * ms) / 100);

  a.session.on_datagram(Port::data, data_of("b"), answers[0].bytes, t + 5 * ms);
  auto ck2 = a.session.take_datagrams();
  REQUIRE(ck2.size() == 1);
  CHECK(is_clock(ck2[0], 2));
  CHECK(std::get<ClockSync>(*session_packet(ck2[0])).timestamps[2] == (t + 5 * ms) / 100);
  CHECK(a.session.participants()[0].rtt_us == 5'000);

  // CK2 ends the exchange.
  b.session.on_datagram(Port::data, data_of("a"), ck2[0].bytes, t + 7 * ms);
  CHECK(b.session.take_datagrams().empty());
}

TEST_CASE("MIDI flows both ways in order, clock and a segmented SysEx included", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);

  const Bytes sysex = big_sysex(5'000);
  const std::vector<Bytes> to_b{note_on_60,  clock_tick,    sysex,        clock_tick,
                                note_off_60, {0xb0, 7, 99}, {0xe0, 0, 64}};
  for (const auto& m : to_b)
    a.session.send(m, std::nullopt);
  const std::vector<Bytes> to_a{note_on_62, clock_tick, {0xc3, 5}};
  for (const auto& m : to_a)
    b.session.send(m, std::nullopt);
  net.run_for(1 * ms);

  CHECK(played(b) == to_b);
  CHECK(played(a) == to_a);
  // The SysEx took several packets, none over the limit.
  const auto rtp = net.sent_by("a", is_rtp);
  CHECK(rtp.size() >= 5);
  for (const auto& sent : rtp) {
    const auto packet = decode_midi_packet(sent.datagram.bytes).packet;
    REQUIRE(packet);
    std::size_t size = 0;
    for (std::size_t i = 0; i < packet->commands.size(); ++i)
      size += encoded_size(packet->commands[i], i == 0);
    CHECK(size <= a.session.config().max_packet_midi);
  }
  for (const auto& sent : rtp)
    CHECK(sent.datagram.to == data_of("b"));
  CHECK(b.session.counters().lost == 0);
  CHECK(b.session.counters().sysex_dropped == 0);
  CHECK(b.session.counters().malformed == 0);

  // Many small messages are packed together.
  net.log.clear();
  for (int i = 0; i < 100; ++i)
    a.session.send(clock_tick, std::nullopt);
  net.run_for(1 * ms);
  CHECK(net.sent_by("a", is_rtp).size() == 1);
  CHECK(played(b).size() == to_b.size() + 100);
}

// Found by tests/fuzz/fuzz_rtp_session: a lone F7 (EOX with no SysEx, a complete message to
// MIDI 1.0) went out as a command of its own, but in RTP-MIDI an F7 command starts a SysEx
// segment that must end in F7, F0 or F4: the receiver refused the whole packet, the notes
// packed with it included. What a packet cannot carry is not sent.
TEST_CASE("a lone F7 is not sent, and the MIDI packed with it arrives", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);

  a.session.send(note_on_60, std::nullopt);
  a.session.send(Bytes{0xf7}, std::nullopt); // last in its packet
  net.run_for(1 * ms);
  a.session.send(note_off_60, std::nullopt);
  a.session.send_to(b.ssrc(), Bytes{0xf7}); // between two notes
  a.session.send(note_on_62, std::nullopt);
  net.run_for(1 * ms);
  CHECK(played(b, false) == std::vector<Bytes>{note_on_60, note_off_60, note_on_62});
  CHECK(b.session.counters().malformed == 0);
  CHECK(b.session.counters().sysex_dropped == 0);
  for (const auto& sent : net.sent_by("a", is_rtp))
    CHECK(decode_midi_packet(sent.datagram.bytes));
}

TEST_CASE("send() skips the participant a message came from", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002), c("c", 0xcccc'0003);
  net.nodes = {&a, &b, &c};
  join(net, a, b);
  join(net, c, a);
  REQUIRE(a.session.participants().size() == 2);

  a.session.send(note_on_60, b.ssrc());
  a.session.send(note_on_62, c.ssrc());
  a.session.send(clock_tick, std::nullopt);
  net.run_for(1 * ms);
  CHECK(played(b) == std::vector<Bytes>{note_on_62, clock_tick});
  CHECK(played(c) == std::vector<Bytes>{note_on_60, clock_tick});
  for (const auto& m : events_of<ParticipantMidi>(b.events))
    CHECK(m.ssrc == a.ssrc());
}

TEST_CASE("a lost note-off is recovered from the journal", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);
  net.run_for(2 * s);

  a.session.send(note_on_60, std::nullopt);
  net.run_for(1 * ms);
  REQUIRE(played(b) == std::vector<Bytes>{note_on_60});

  bool drop_next = true;
  net.drop = [&](const Sent& sent) {
    if (sent.from != "a" || !is_rtp(sent.datagram) || !drop_next) return false;
    drop_next = false;
    return true;
  };
  a.session.send(note_off_60, std::nullopt);
  net.run_for(1 * ms);
  REQUIRE(!drop_next);
  CHECK(played(b).size() == 1);

  SECTION("from the next packet's journal") {
    a.session.send(note_on_62, std::nullopt);
    net.run_for(1 * ms);
    CHECK(played(b, true) == std::vector<Bytes>{note_off_60});
    CHECK(played(b) == std::vector<Bytes>{note_on_60, note_off_60, note_on_62});
  }
  SECTION("from a journal-only packet when it was the last one") {
    net.run_for(a.session.config().journal_repeat_us);
    CHECK(played(b) == std::vector<Bytes>{note_on_60, note_off_60});
    CHECK(played(b, true) == std::vector<Bytes>{note_off_60});
  }
  CHECK(b.session.counters().lost == 1);
  CHECK(b.session.counters().recovered == 1);
  CHECK(b.session.participants()[0].lost == 1);

  // b's receiver feedback moves a's checkpoint: no more journal after a while.
  net.run_for(2 * s);
  net.log.clear();
  a.session.send(clock_tick, std::nullopt);
  net.run_for(1 * ms);
  const auto rtp = net.sent_by("a", is_rtp);
  REQUIRE(rtp.size() == 1);
  CHECK_FALSE(decode_midi_packet(rtp[0].datagram.bytes).packet->has_journal);
}

TEST_CASE("a lost note-on that is still held is recovered", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);
  net.run_for(2 * s);
  // The very first packet to b, or one later.
  const bool first_packet = GENERATE(true, false);
  std::vector<Bytes> before;
  if (!first_packet) {
    a.session.send(clock_tick, std::nullopt);
    net.run_for(1 * ms);
    before.push_back(clock_tick);
  }

  bool drop_next = true;
  net.drop = [&](const Sent& sent) {
    if (sent.from != "a" || !is_rtp(sent.datagram) || !drop_next) return false;
    drop_next = false;
    return true;
  };
  a.session.send(note_on_60, std::nullopt);
  net.run_for(1 * ms);
  CHECK(played(b) == before);
  a.session.send(note_on_62, std::nullopt);
  net.run_for(1 * ms);
  before.push_back(note_on_60);
  before.push_back(note_on_62);
  CHECK(played(b) == before);
  CHECK(played(b, true) == std::vector<Bytes>{note_on_60});
  CHECK(b.session.counters().recovered == 1);
}

TEST_CASE("journal-only packets follow the last MIDI until it is acknowledged", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);
  const bool feedback_lost = GENERATE(false, true);
  net.drop = [&](const Sent& sent) { return feedback_lost && is_feedback(sent.datagram); };
  net.run_for(2 * s);
  net.log.clear();

  const std::uint64_t start = net.now;
  a.session.send(note_on_60, std::nullopt);
  net.run_for(5 * s);
  const auto rtp = net.sent_by("a", is_rtp);
  const std::uint64_t repeat = a.session.config().journal_repeat_us;
  if (feedback_lost) {
    REQUIRE(rtp.size() == 4);
    CHECK(rtp[1].at == start + repeat);
    CHECK(rtp[2].at == start + 4 * repeat);
    CHECK(rtp[3].at == start + 16 * repeat);
    for (std::size_t i = 1; i < rtp.size(); ++i) {
      const auto packet = decode_midi_packet(rtp[i].datagram.bytes).packet;
      CHECK(packet->commands.empty());
      CHECK(packet->has_journal);
    }
  } else {
    CHECK(rtp.size() == 1); // acknowledged before the first repeat was due
    CHECK(net.sent_by("b", is_feedback).size() == 1);
  }
  CHECK(played(b) == std::vector<Bytes>{note_on_60}); // repeats play nothing twice
  CHECK(b.session.counters().lost == 0);
}

TEST_CASE("BY makes a participant leave", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b, 3);
  b.session.leave();
  net.run_for(1 * ms);
  const auto left = events_of<ParticipantLeft>(a.events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].ssrc == b.ssrc());
  CHECK(left[0].reason == LeaveReason::bye);
  CHECK(a.session.participants().empty());
  CHECK(b.session.participants().empty());
  // An invitation with attempts is not renewed.
  net.run_for(10 * s);
  CHECK(events_of<ParticipantJoined>(a.events).size() == 1);
  CHECK(a.session.next_wakeup_us() == 0);
}

TEST_CASE("a silent participant leaves, and a kept peer is invited again", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b); // attempts 0: keep the peer
  REQUIRE(events_of<ParticipantJoined>(a.events).size() == 1);
  net.run_for(3 * s);

  // b's machine sleeps: nothing in or out.
  net.nodes = {&a};
  const std::uint64_t silent_since = net.now;
  net.run_for(a.session.config().peer_timeout_us + 1 * s);
  const auto left = events_of<ParticipantLeft>(a.events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].reason == LeaveReason::silent);
  CHECK(a.session.participants().empty());
  const auto bye = net.sent_by("a", [](auto& d) { return is_command(d, Command::bye); });
  REQUIRE(bye.size() == 1);
  CHECK(bye[0].at <= silent_since + a.session.config().peer_timeout_us);
  CHECK(bye[0].datagram.to == control_of("b"));

  // Inviting again, with a report after a few unanswered tries and only once.
  net.run_for(20 * s);
  const auto invitations =
      net.sent_by("a", [](auto& d) { return is_command(d, Command::invitation); });
  CHECK(invitations.size() >= 15);
  REQUIRE(events_of<InvitationFailed>(a.events).size() == 1);
  CHECK_FALSE(events_of<InvitationFailed>(a.events)[0].refused);

  // b wakes up, forgot everything (a new session), and is joined again.
  b.session.leave();
  Node b2("b", 0xbbbb'0003);
  net.nodes = {&a, &b2};
  net.run_for(2 * s);
  const auto joined = events_of<ParticipantJoined>(a.events);
  REQUIRE(joined.size() == 2);
  CHECK(joined[1].ssrc == b2.ssrc());
  CHECK(joined[1].we_invited);
  a.session.send(note_on_60, std::nullopt);
  net.run_for(1 * ms);
  CHECK(played(b2) == std::vector<Bytes>{note_on_60});
}

TEST_CASE("invitations refused or unanswered are reported once", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  const auto invitations = [&] {
    auto datagrams = session.take_datagrams();
    return count(datagrams, [](auto& d) { return is_command(d, Command::invitation); });
  };
  const auto step = [&](std::uint64_t until) {
    std::size_t sent = 0;
    while (now < until) {
      const auto wakeup = session.next_wakeup_us();
      if (wakeup == 0 || wakeup > until) break;
      now = std::max(wakeup, now);
      session.tick(now);
      sent += invitations();
    }
    now = until;
    return sent;
  };
  const Endpoint remote{"10.0.0.9", 5004};

  SECTION("no answer, three attempts") {
    session.invite(remote, now, 3);
    CHECK(invitations() == 1);
    CHECK(step(now + 10 * s) == 2);
    const auto failed = events_of<InvitationFailed>(session.take_events());
    REQUIRE(failed.size() == 1);
    CHECK_FALSE(failed[0].refused);
    CHECK(failed[0].control == remote);
    CHECK(session.next_wakeup_us() == 0);
  }
  SECTION("no answer, forever") {
    session.invite(remote, now, 0);
    CHECK(invitations() == 1);
    CHECK(step(now + 30 * s) == 30);
    CHECK(events_of<InvitationFailed>(session.take_events()).size() == 1);
  }
  SECTION("refused") {
    const unsigned attempts = GENERATE(0u, 3u);
    session.invite(remote, now, attempts);
    auto sent = session.take_datagrams();
    REQUIRE(sent.size() == 1);
    const auto token = std::get<Invitation>(*session_packet(sent[0])).token;
    const Bytes no = encode(Invitation{Command::rejected, apple_midi_version, token, 77, "them"});
    session.on_datagram(Port::control, remote, no, now);
    const auto failed = events_of<InvitationFailed>(session.take_events());
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].refused);
    CHECK(failed[0].name == "them");
    if (attempts == 0) {
      // Kept: asked again, and a second NO is not reported again.
      CHECK(step(now + 1 * s) == 1);
      session.on_datagram(Port::control, remote, no, now);
      CHECK(session.take_events().empty());
    } else {
      CHECK(step(now + 10 * s) == 0);
      CHECK(session.take_events().empty());
    }
  }
}

TEST_CASE("invitations from strangers: version, data port first, half open", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  Script peer{session, now};

  SECTION("another version is refused") {
    peer.invite(Port::control, 3);
    const auto answers = peer.take();
    REQUIRE(answers.size() == 1);
    CHECK(is_command(answers[0], Command::rejected));
    CHECK(answers[0].to == control_of("script"));
    CHECK(std::get<Invitation>(*session_packet(answers[0])).token == peer.token);
    CHECK(session.counters().version_mismatch == 1);
    CHECK(session.counters().refused == 1);
    CHECK(session.participants().empty());
  }
  SECTION("a data invitation without the control one is refused") {
    peer.invite(Port::data);
    const auto answers = peer.take();
    REQUIRE(answers.size() == 1);
    CHECK(is_command(answers[0], Command::rejected));
    CHECK(answers[0].port == Port::data);
    CHECK(session.counters().unknown_ssrc == 1);
    CHECK(session.participants().empty());
  }
  SECTION("half joined is forgotten") {
    peer.invite(Port::control);
    auto answers = peer.take();
    REQUIRE(answers.size() == 1);
    CHECK(is_command(answers[0], Command::accepted));
    const auto ok = std::get<Invitation>(*session_packet(answers[0]));
    CHECK(ok.token == peer.token);
    CHECK(ok.ssrc == 0x1234'5678);
    CHECK(ok.name == "us");
    CHECK(session.participants().size() == 1);
    // Its retransmission is answered again.
    peer.invite(Port::control);
    CHECK(count(peer.take(), [](auto& d) { return is_command(d, Command::accepted); }) == 1);
    now += session.config().half_open_timeout_us;
    CHECK(session.next_wakeup_us() <= now);
    session.tick(now);
    CHECK(session.participants().empty());
    CHECK(session.take_events().empty());
  }
  SECTION("joined, and a repeated data invitation is answered without a new event") {
    peer.join();
    auto answers = peer.take();
    CHECK(count(answers, [](auto& d) { return is_command(d, Command::accepted); }) == 2);
    CHECK(count(answers, [](auto& d) { return is_clock(d, 0); }) == 1);
    peer.invite(Port::data);
    CHECK(count(peer.take(), [](auto& d) { return is_command(d, Command::accepted); }) == 1);
    const auto joined = events_of<ParticipantJoined>(session.take_events());
    REQUIRE(joined.size() == 1);
    CHECK(joined[0].name == "script");
    CHECK(joined[0].control == control_of("script"));
  }
}

TEST_CASE("an invitation flood fills the session and its NO answers are rate-limited",
          "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  const std::size_t max = session.config().max_participants;
  std::vector<Datagram> answers;
  for (std::uint32_t i = 0; i < 100; ++i) {
    const Bytes in =
        encode(Invitation{Command::invitation, apple_midi_version, 1000 + i, 5000 + i, "flood"});
    session.on_datagram(Port::control, {"10.0.0.66", static_cast<std::uint16_t>(20000 + 2 * i)}, in,
                        now + i);
    for (auto& d : session.take_datagrams())
      answers.push_back(std::move(d));
  }
  CHECK(session.participants().size() == max);
  CHECK(count(answers, [](auto& d) { return is_command(d, Command::accepted); }) == max);
  CHECK(count(answers, [](auto& d) { return is_command(d, Command::rejected); }) == 20);
  CHECK(session.counters().refused == 100 - max);
  CHECK(session.take_events().empty());

  // A second later the limit allows NO answers again.
  now += 1 * s + 100;
  const Bytes late = encode(Invitation{Command::invitation, apple_midi_version, 1, 9999, "late"});
  session.on_datagram(Port::control, {"10.0.0.67", 5004}, late, now);
  CHECK(count(session.take_datagrams(), [](auto& d) { return is_command(d, Command::rejected); }) ==
        1);
  CHECK(session.counters().refused == 100 - max + 1);
}

TEST_CASE("garbage and strangers' packets are counted, never played", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  Script peer{session, now};
  peer.join();
  peer.take();
  session.take_events();

  const std::vector<Bytes> garbage{
      {},
      {0x01, 0x02, 0x03},
      {0xff, 0xff, 'Z', 'Z', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2},
      {0xff, 0xff, 'I', 'N', 0, 0},
      Bytes(40, 0xaa),
  };
  for (const auto& bytes : garbage) {
    session.on_datagram(Port::control, control_of("script"), bytes, now);
    session.on_datagram(Port::data, data_of("script"), bytes, now);
  }
  CHECK(session.counters().malformed == 2 * garbage.size());
  CHECK(session.take_events().empty());
  CHECK(session.take_datagrams().empty());

  // Well-formed RTP from an SSRC that is no participant.
  peer.ssrc = 0xdead'beef;
  peer.midi(1, {note_on_60});
  CHECK(session.counters().unknown_ssrc == 1);
  const Bytes ck = encode(ClockSync{0xdead'beef, 0, {1, 0, 0}});
  session.on_datagram(Port::data, data_of("script"), ck, now);
  CHECK(session.counters().unknown_ssrc == 2);
  CHECK(session.take_events().empty());
  CHECK(peer.take().empty());
  CHECK(session.counters().packets_in == 2 * garbage.size() + 4);
}

TEST_CASE("RTP sequence: duplicates dropped, losses counted, wraparound", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  Script peer{session, now};
  peer.join();
  session.take_events();
  const auto midi = [&] { return events_of<ParticipantMidi>(session.take_events()); };

  peer.midi(65533, {note_on_60});
  peer.midi(65534, {note_on_62});
  peer.midi(65534, {note_on_62}); // duplicate
  peer.midi(65533, {note_on_60}); // late
  peer.midi(65535, {clock_tick});
  peer.midi(0, {clock_tick});
  peer.midi(1, {clock_tick});
  auto got = midi();
  CHECK(got.size() == 5);
  CHECK(session.counters().lost == 0);

  peer.midi(4, {clock_tick}); // 2 and 3 lost
  CHECK(midi().size() == 1);
  CHECK(session.counters().lost == 2);
  CHECK(session.participants()[0].lost == 2);

  peer.midi(65535, {clock_tick}); // far behind: old, not 65531 lost
  CHECK(midi().empty());
  CHECK(session.counters().lost == 2);

  // Receiver feedback names the highest sequence number, to the control port.
  now += 1 * s;
  session.tick(now);
  const auto out = session.take_datagrams();
  REQUIRE(count(out, is_feedback) == 1);
  for (const auto& d : out) {
    if (!is_feedback(d)) continue;
    CHECK(std::get<ReceiverFeedback>(*session_packet(d)).seq == 4);
    CHECK(d.to == control_of("script"));
    CHECK(d.port == Port::control);
  }
}

TEST_CASE("a SysEx cut by a loss is dropped once, and the next one arrives", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  Script peer{session, now};
  peer.join();
  session.take_events();

  const Bytes first{0xf0, 1, 2, 0xf0}, middle{0xf7, 3, 4, 0xf0}, last{0xf7, 5, 0xf7};
  peer.midi(10, {first});
  peer.midi(12, {middle}); // 11 lost
  peer.midi(13, {middle});
  peer.midi(14, {last});
  CHECK(session.counters().sysex_dropped == 1);
  CHECK(events_of<ParticipantMidi>(session.take_events()).empty());
  peer.midi(15, {first});
  peer.midi(16, {last});
  const auto midi = events_of<ParticipantMidi>(session.take_events());
  REQUIRE(midi.size() == 1);
  CHECK(midi[0].message == Bytes{0xf0, 1, 2, 5, 0xf7});
  CHECK(session.counters().sysex_dropped == 1);
}

// The npm `rtpmidi` package (node_modules/rtpmidi/src/Stream.js) sends MIDI only once it has a
// latency, which it computes from a CK1 answering its own CK0; a CK2 it receives makes it start
// a CK0 of its own. This replays that peer, as inviter and as invited.
TEST_CASE("MIDI flows from a peer that plays only after its own clock sync", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  Script npm{session, now, "npm"};
  bool npm_synced = false;
  std::uint16_t npm_seq = 40'000;
  const auto npm_react = [&](const std::vector<Datagram>& datagrams) {
    // Stream.prototype.sendSynchronization, answering what it got.
    std::vector<Bytes> replies;
    for (const auto& d : datagrams) {
      const auto packet = session_packet(d);
      if (!packet || !std::holds_alternative<ClockSync>(*packet)) continue;
      const auto ck = std::get<ClockSync>(*packet);
      ClockSync answer{npm.ssrc, static_cast<std::uint8_t>(ck.count + 1), ck.timestamps};
      if (ck.count == 0) answer.timestamps[1] = now / 100;
      if (ck.count == 1) {
        answer.timestamps[2] = now / 100;
        npm_synced = true;
      }
      if (ck.count == 2) answer = ClockSync{npm.ssrc, 0, {now / 100, 0, 0}};
      replies.push_back(encode(answer));
    }
    return replies;
  };
  const auto run = [&](int rounds) {
    for (int i = 0; i < rounds; ++i) {
      for (const auto& reply : npm_react(npm.take()))
        npm.send(Port::data, reply);
      now += 1 * ms;
      session.tick(now);
      for (auto& d : session.take_datagrams())
        npm.received.push_back(std::move(d));
    }
  };

  const bool npm_invites = GENERATE(true, false);
  if (npm_invites) {
    npm.join();
  } else {
    session.invite(control_of("npm"), now, 3);
    auto out = session.take_datagrams();
    REQUIRE(out.size() == 1);
    const auto token = std::get<Invitation>(*session_packet(out[0])).token;
    npm.send(Port::control,
             encode(Invitation{Command::accepted, apple_midi_version, token, npm.ssrc, "npm"}));
    auto data_in = npm.take();
    REQUIRE(data_in.size() == 1);
    CHECK(data_in[0].to == data_of("npm"));
    npm.send(Port::data,
             encode(Invitation{Command::accepted, apple_midi_version, token, npm.ssrc, "npm"}));
  }
  REQUIRE(events_of<ParticipantJoined>(session.take_events()).size() == 1);

  run(5);
  REQUIRE(npm_synced);
  // It plays now (Stream.prototype.sendMessage), without a journal.
  npm.midi(npm_seq++, {note_on_60});
  npm.midi(npm_seq++, {note_off_60});
  const auto midi = events_of<ParticipantMidi>(session.take_events());
  REQUIRE(midi.size() == 2);
  CHECK(midi[0].message == note_on_60);
  CHECK(midi[1].message == note_off_60);
  CHECK(session.participants()[0].rtt_us >= 0);

  // Its clock sync every 10 s keeps it alive for as long as it is there.
  for (int i = 0; i < 6; ++i) {
    now += 1 * s;
    session.tick(now);
    for (auto& d : session.take_datagrams())
      npm.received.push_back(std::move(d));
    for (const auto& reply : npm_react(npm.take()))
      npm.send(Port::data, reply);
  }
  CHECK(events_of<ParticipantLeft>(session.take_events()).empty());
  CHECK(session.counters().malformed == 0);
}

TEST_CASE("leave() says BY to every participant, half joined too", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);
  Script half{a.session, net.now, "half"};
  half.invite(Port::control);
  half.take();
  REQUIRE(a.session.participants().size() == 2);

  a.session.leave();
  auto out = a.session.take_datagrams();
  CHECK(count(out, [](auto& d) { return is_command(d, Command::bye); }) == 2);
  CHECK(count(out, [](auto& d) { return d.to == control_of("half"); }) == 1);
  CHECK(a.session.participants().empty());
  for (auto& d : out)
    if (d.to.host == "b") b.session.on_datagram(Port::control, control_of("a"), d.bytes, net.now);
  CHECK(events_of<ParticipantLeft>(b.session.take_events()).size() == 1);
  // Not inviting any more.
  net.log.clear();
  net.run_for(10 * s);
  CHECK(net.sent_by("a", [](auto& d) { return is_command(d, Command::invitation); }).empty());
}

TEST_CASE("next_wakeup_us names the earliest timer", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  CHECK(session.next_wakeup_us() == 0);
  Script peer{session, now};
  peer.invite(Port::control);
  CHECK(session.next_wakeup_us() == now + session.config().half_open_timeout_us);
  peer.invite(Port::data);
  CHECK(session.next_wakeup_us() == now + session.config().ck_interval_us);
  peer.midi(1, {note_on_60});
  CHECK(session.next_wakeup_us() <= now); // receiver feedback due
  session.tick(now);
  CHECK(session.next_wakeup_us() == now + session.config().ck_interval_us);
  session.send(note_off_60, std::nullopt);
  session.flush(now);
  CHECK(session.next_wakeup_us() == now + session.config().journal_repeat_us);
}

TEST_CASE("two sessions inviting each other at once join once", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  a.session.invite(control_of("b"), net.now, 0);
  b.session.invite(control_of("a"), net.now, 0);
  net.run_for(10 * s);
  CHECK(events_of<ParticipantJoined>(a.events).size() == 1);
  CHECK(events_of<ParticipantJoined>(b.events).size() == 1);
  CHECK(a.session.participants().size() == 1);
  CHECK(b.session.participants().size() == 1);
  CHECK(events_of<InvitationFailed>(a.events).empty());
  a.session.send(note_on_60, std::nullopt);
  b.session.send(note_on_62, std::nullopt);
  net.run_for(1 * ms);
  CHECK(played(b) == std::vector<Bytes>{note_on_60});
  CHECK(played(a) == std::vector<Bytes>{note_on_62});

  // b leaving makes a invite it again (a keeps its peer), and b, open still, accepts.
  b.session.leave();
  net.run_for(5 * s);
  CHECK(events_of<ParticipantLeft>(a.events).size() == 1);
  CHECK(events_of<ParticipantJoined>(a.events).size() == 2);
  CHECK(a.session.participants().size() == 1);
  CHECK(b.session.participants().size() == 1);
}

TEST_CASE("a new SSRC from a participant's control address replaces it", "[rtp_session]") {
  std::uint64_t now = 10 * s;
  Session session(config_for("us", 0x1234'5678));
  Script peer{session, now};
  peer.join();
  session.take_events();
  peer.ssrc += 1; // the peer restarted without saying BY
  peer.token += 1;
  peer.join();
  const auto events = session.take_events();
  const auto left = events_of<ParticipantLeft>(events);
  REQUIRE(left.size() == 1);
  CHECK(left[0].ssrc == peer.ssrc - 1);
  CHECK(left[0].reason == LeaveReason::replaced);
  REQUIRE(events_of<ParticipantJoined>(events).size() == 1);
  CHECK(events_of<ParticipantJoined>(events)[0].ssrc == peer.ssrc);
  CHECK(session.participants().size() == 1);
}

TEST_CASE("a sender's sequence numbers wrap around unnoticed", "[rtp_session]") {
  Net net;
  Node a("a", 0xaaaa'0001), b("b", 0xbbbb'0002);
  net.nodes = {&a, &b};
  join(net, a, b);
  net.log.clear();
  constexpr std::size_t packets = 66'000; // more than 65536: the wrap is on the way
  for (std::size_t i = 0; i < packets; ++i) {
    a.session.send(clock_tick, std::nullopt);
    a.session.flush(net.now);
    net.deliver();
    if (i % 1000 == 0) net.log.clear();
  }
  CHECK(played(b).size() == packets);
  CHECK(b.session.counters().lost == 0);
  CHECK(b.session.counters().malformed == 0);
}
