#include "rtpmidi/session.hpp"

#include "midi/midi_message.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace midimesh::rtpmidi {

namespace {

// NO answers in total per second: an invitation flood costs a counter increment, not a reply.
constexpr unsigned max_refusals_per_second = 20;
constexpr std::uint64_t refusal_window_us = 1'000'000;
// An invitation that keeps its peer reports the peer unreachable once after this many tries.
constexpr unsigned forever_report_tries = 5;
// A peer that accepted on its control port but never on its data port is invited from the
// start again after this many data invitations (it may have restarted and forgotten us).
constexpr unsigned data_stage_tries = 5;
// Journal-only packets after the last MIDI, at these multiples of journal_repeat_us.
constexpr std::array<std::uint64_t, 3> journal_repeat_factors{1, 4, 16};

std::uint64_t ticks(std::uint64_t now_us) {
  return now_us / 100;
}

// splitmix64's finaliser: tokens and first sequence numbers that differ between sessions and
// invitations without a random device (the SSRC itself is random).
std::uint32_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::uint32_t>(x ^ (x >> 31));
}

std::uint32_t read_be32(std::span<const std::uint8_t> bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}

bool is_channel_voice(std::uint8_t status) {
  return status >= 0x80 && status < 0xf0;
}

// A lone F7 (an EOX with no SysEx, which MIDI 1.0 receivers ignore) cannot travel: in RTP-MIDI
// an F7 command starts a SysEx segment that runs to an F7, F0 or F4, so the receiver would take
// the commands after it as the segment's data, or refuse the whole packet (found by fuzzing).
bool can_send(std::span<const std::uint8_t> message) {
  return !message.empty() && message.front() != 0xf7;
}

template <class... Ts> struct overloaded : Ts... { using Ts::operator()...; };
template <class... Ts> overloaded(Ts...) -> overloaded<Ts...>;

} // namespace

Session::Session(SessionConfig config) : config_(std::move(config)) {}

void Session::on_datagram(Port port, const Endpoint& from, std::span<const std::uint8_t> bytes,
                          std::uint64_t now_us) {
  ++counters_.packets_in;
  if (is_session_packet(bytes)) {
    on_session_packet(port, from, bytes, now_us);
  } else if (port == Port::data) {
    on_rtp(from, bytes, now_us);
  } else {
    ++counters_.malformed; // RTP has no business on the control port
  }
}

void Session::on_session_packet(Port port, const Endpoint& from,
                                std::span<const std::uint8_t> bytes, std::uint64_t now_us) {
  const DecodedSession decoded = decode_session(bytes);
  if (!decoded) {
    ++counters_.malformed;
    return;
  }
  std::visit(
      overloaded{
          [&](const Invitation& packet) {
            switch (packet.command) {
            case Command::invitation:
              on_invitation(port, from, packet, now_us);
              break;
            case Command::accepted:
            case Command::rejected:
              on_answer(port, from, packet, now_us);
              break;
            case Command::bye: {
              const auto it = participants_.find(packet.ssrc);
              if (it == participants_.end()) {
                // A peer that accepted our control invitation may leave before the data one.
                const auto o = std::find_if(outgoing_.begin(), outgoing_.end(), [&](auto& out) {
                  return out.stage == Outgoing::Stage::data && out.ssrc == packet.ssrc;
                });
                if (o == outgoing_.end()) {
                  ++counters_.unknown_ssrc;
                } else {
                  o->stage = Outgoing::Stage::control;
                  o->tries = 0;
                  o->next_us = now_us + config_.invite_retry_us;
                }
                return;
              }
              if (it->second.joined)
                events_.push_back(ParticipantLeft{packet.ssrc, it->second.name, LeaveReason::bye});
              forget(packet.ssrc, now_us);
              break;
            }
            default:
              ++counters_.malformed;
            }
          },
          [&](const ClockSync& packet) {
            Participant* const known = heard_from(packet.ssrc, now_us);
            if (!known) return;
            Participant& p = *known;
            ClockSync answer{config_.ssrc, 0, packet.timestamps};
            switch (packet.count) {
            case 0:
              // Answer at once: the npm rtpmidi peer sends no MIDI before its own CK0 is
              // answered.
              answer.count = 1;
              answer.timestamps[1] = ticks(now_us);
              queue_datagram(port, from, encode(answer));
              break;
            case 1: {
              // Some peers echo only the low 32 bits of our timestamp: subtract in 32 bits.
              const auto elapsed =
                  static_cast<std::uint32_t>(static_cast<std::uint32_t>(ticks(now_us)) -
                                             static_cast<std::uint32_t>(packet.timestamps[0]));
              if (std::uint64_t{elapsed} * 100 <= config_.peer_timeout_us)
                p.rtt_us = static_cast<std::int64_t>(elapsed) * 100;
              answer.count = 2;
              answer.timestamps[2] = ticks(now_us);
              queue_datagram(port, from, encode(answer));
              break;
            }
            default:
              break;
            }
          },
          [&](const ReceiverFeedback& packet) {
            Participant* const known = heard_from(packet.ssrc, now_us);
            if (!known) return;
            Participant& p = *known;
            // Only a sequence number we have sent moves the checkpoint.
            const auto last_sent = static_cast<std::uint16_t>(p.next_seq - 1);
            if (static_cast<std::uint16_t>(last_sent - packet.seq) < 0x8000)
              p.history.acknowledge(packet.seq);
          },
      },
      *decoded.packet);
}

void Session::on_invitation(Port port, const Endpoint& from, const Invitation& packet,
                            std::uint64_t now_us) {
  if (packet.ssrc == config_.ssrc) return; // our own invitation, looped back
  const auto accept = [&] {
    queue_datagram(port, from,
                   encode(Invitation{Command::accepted, apple_midi_version, packet.token,
                                     config_.ssrc, config_.name}));
  };
  const auto it = participants_.find(packet.ssrc);
  if (it != participants_.end()) {
    Participant& p = it->second;
    p.heard_us = now_us;
    accept(); // a first data invitation, or a retransmission: the answer was lost
    if (port == Port::data && !p.joined) {
      p.joined = true;
      p.data = from;
      events_.push_back(ParticipantJoined{p.ssrc, p.name, p.control, false});
      send_clock(p, now_us); // the sooner it is synced, the sooner an npm peer plays
    }
    return;
  }
  if (port == Port::data) {
    ++counters_.unknown_ssrc;
    ++counters_.refused;
    refuse(port, from, packet.token, now_us);
    return;
  }
  if (packet.version != apple_midi_version) {
    ++counters_.version_mismatch;
    ++counters_.refused;
    refuse(port, from, packet.token, now_us);
    return;
  }
  // A new SSRC from the control address of a participant: that peer restarted, and the old
  // session will never say BY.
  const auto old = std::find_if(participants_.begin(), participants_.end(),
                                [&](const auto& entry) { return entry.second.control == from; });
  if (old != participants_.end()) {
    if (old->second.joined)
      events_.push_back(ParticipantLeft{old->first, old->second.name, LeaveReason::replaced});
    forget(old->first, now_us);
  }
  if (participants_.size() >= config_.max_participants) {
    ++counters_.refused;
    refuse(port, from, packet.token, now_us);
    return;
  }
  Participant& p = participants_[packet.ssrc];
  p.ssrc = packet.ssrc;
  p.name = packet.name;
  p.control = from;
  p.token = packet.token;
  p.since_us = now_us;
  p.heard_us = now_us;
  p.next_seq = first_seq(p.ssrc);
  accept();
}

void Session::on_answer(Port port, const Endpoint& from, const Invitation& packet,
                        std::uint64_t now_us) {
  if (const auto it = participants_.find(packet.ssrc); it != participants_.end())
    it->second.heard_us = now_us;
  const auto o = std::find_if(outgoing_.begin(), outgoing_.end(), [&](const Outgoing& out) {
    return out.token == packet.token && out.stage != Outgoing::Stage::joined;
  });
  if (o == outgoing_.end()) return; // an answer to a retransmission, or not ours
  if (packet.command == Command::rejected) {
    if (!o->failure_reported) events_.push_back(InvitationFailed{o->control, true, packet.name});
    if (o->attempts != 0) {
      outgoing_.erase(o);
    } else {
      // Keeping the peer: ask again later, it may open its session.
      o->failure_reported = true;
      o->stage = Outgoing::Stage::control;
      o->tries = 0;
    }
    return;
  }
  if (o->stage == Outgoing::Stage::control && port == Port::control) {
    o->stage = Outgoing::Stage::data;
    o->answered = from;
    o->ssrc = packet.ssrc;
    o->name = packet.name;
    o->data = Endpoint{o->control.host, static_cast<std::uint16_t>(o->control.port + 1)};
    o->tries = 0;
    send_invitation(*o, now_us);
    return;
  }
  if (o->stage != Outgoing::Stage::data || port != Port::data || packet.ssrc != o->ssrc) return;
  auto [it, inserted] = participants_.try_emplace(packet.ssrc);
  Participant& p = it->second;
  if (inserted) {
    p.ssrc = packet.ssrc;
    p.name = packet.name;
    p.control = o->answered;
    p.token = o->token;
    p.since_us = now_us;
    p.next_seq = first_seq(p.ssrc);
  }
  p.heard_us = now_us;
  if (!p.joined) {
    // Also when it is inviting us at the same time: whichever data stage ends first joins it.
    p.joined = true;
    p.we_invited = true;
    p.data = from;
    events_.push_back(ParticipantJoined{p.ssrc, p.name, p.control, true});
    send_clock(p, now_us);
  }
  if (o->attempts != 0) {
    outgoing_.erase(o);
  } else {
    o->stage = Outgoing::Stage::joined; // waits for it to leave
    o->failure_reported = false;
  }
}

void Session::on_rtp(const Endpoint& /*from*/, std::span<const std::uint8_t> bytes,
                     std::uint64_t now_us) {
  if (bytes.size() < 12) {
    ++counters_.malformed;
    return;
  }
  // The SSRC first: the running status the packet may continue is its sender's.
  const auto it = participants_.find(read_be32(bytes, 8));
  if (it == participants_.end() || !it->second.joined) {
    if (decode_midi_packet(bytes))
      ++counters_.unknown_ssrc;
    else
      ++counters_.malformed;
    return;
  }
  Participant& p = it->second;
  const DecodedRtp decoded = decode_midi_packet(bytes, p.running_status);
  if (!decoded) {
    ++counters_.malformed;
    return;
  }
  p.heard_us = now_us;
  const MidiPacket& packet = *decoded.packet;
  const std::uint16_t seq = packet.header.seq;
  bool gap = false;
  if (p.have_seq) {
    const auto ahead = static_cast<std::uint16_t>(seq - p.expected_seq);
    if (ahead >= 0x8000) return; // behind: a duplicate or a reordered packet, already covered
    if (ahead > 0) {
      counters_.lost += ahead;
      p.lost += ahead;
      gap = true;
    }
  } else {
    // Its first packet: a journal there means earlier ones went out and never arrived.
    gap = packet.has_journal;
  }
  p.have_seq = true;
  p.expected_seq = static_cast<std::uint16_t>(seq + 1);
  p.highest_seq = seq;
  p.feedback_due = true;
  if (gap) {
    if (p.sysex.interrupt()) {
      ++counters_.sysex_dropped;
      p.sysex_discarding = true;
    }
    if (packet.has_journal) {
      Recovery recovery = p.recovery.recover(packet.journal);
      if (recovery.malformed) {
        ++counters_.malformed;
      } else {
        for (auto& message : recovery.messages) {
          ++counters_.recovered;
          events_.push_back(ParticipantMidi{p.ssrc, std::move(message), true});
        }
      }
    }
  }
  for (const MidiCommand& command : packet.commands) {
    play(p, command);
    if (command.bytes.empty()) continue;
    const std::uint8_t status = command.bytes.front();
    if (is_channel_voice(status))
      p.running_status = status;
    else if (status < 0xf8)
      p.running_status = 0; // system common and SysEx end a running status; real-time not
  }
}

void Session::play(Participant& p, const MidiCommand& command) {
  const auto& bytes = command.bytes;
  if (bytes.empty()) {
    ++counters_.malformed;
    return;
  }
  if (bytes.front() == 0xf0 || bytes.front() == 0xf7) {
    if (bytes.front() == 0xf0) p.sysex_discarding = false;
    SysexAssembler::Result result = p.sysex.take(bytes);
    switch (result.outcome) {
    case SysexAssembler::Outcome::complete:
      p.sysex_discarding = false;
      events_.push_back(ParticipantMidi{p.ssrc, std::move(result.message), false});
      break;
    case SysexAssembler::Outcome::incomplete:
      break;
    case SysexAssembler::Outcome::cancelled:
    case SysexAssembler::Outcome::dropped:
      // Once per SysEx, not once per segment of one already given up.
      if (!p.sysex_discarding) ++counters_.sysex_dropped;
      p.sysex_discarding = bytes.back() == 0xf0; // a first or middle segment: more follow
      break;
    }
    return;
  }
  if (!midi::is_complete_message(bytes)) {
    ++counters_.malformed;
    return;
  }
  p.recovery.observe(bytes);
  events_.push_back(ParticipantMidi{p.ssrc, bytes, false});
}

void Session::invite(const Endpoint& control, std::uint64_t now_us, unsigned attempts) {
  const auto existing = std::find_if(outgoing_.begin(), outgoing_.end(),
                                     [&](const Outgoing& o) { return o.control == control; });
  if (existing != outgoing_.end()) {
    existing->attempts = attempts;
    return;
  }
  Outgoing o;
  o.control = control;
  o.token = next_token();
  o.attempts = attempts;
  o.next_us = now_us;
  outgoing_.push_back(std::move(o));
  tick(now_us);
}

void Session::send(std::span<const std::uint8_t> message,
                   std::optional<std::uint32_t> except_ssrc) {
  if (!can_send(message)) return;
  for (auto& [ssrc, p] : participants_)
    if (p.joined && ssrc != except_ssrc) p.queue.emplace_back(message.begin(), message.end());
}

void Session::send_to(std::uint32_t ssrc, std::span<const std::uint8_t> message) {
  auto it = participants_.find(ssrc);
  if (!can_send(message) || it == participants_.end() || !it->second.joined) return;
  it->second.queue.emplace_back(message.begin(), message.end());
}

void Session::flush(std::uint64_t now_us) {
  const std::size_t limit = std::min(config_.max_packet_midi, max_command_section);
  // The largest SysEx segment that fits an empty packet (a first command has no delta).
  const std::size_t overhead = encoded_size(MidiCommand{0, {0xf0, 0x00, 0xf7}}, true) - 3;
  const std::size_t segment_limit = std::max<std::size_t>(3, limit - overhead);
  // Not a structured binding: clang before 16 cannot capture one in the lambda below.
  for (auto& entry : participants_) {
    Participant& p = entry.second;
    if (!p.joined || p.queue.empty()) continue;
    std::vector<MidiCommand> commands;
    std::size_t size = 0;
    const auto add = [&](std::vector<std::uint8_t> bytes) {
      MidiCommand command{0, std::move(bytes)};
      std::size_t bytes_needed = encoded_size(command, commands.empty());
      if (!commands.empty() && size + bytes_needed > limit) {
        send_midi_packet(p, commands, now_us);
        commands.clear();
        size = 0;
        bytes_needed = encoded_size(command, true);
      }
      size += bytes_needed;
      commands.push_back(std::move(command));
    };
    for (auto& message : p.queue) {
      if (message.front() == 0xf0 && message.size() > segment_limit) {
        for (auto& segment : split_sysex(message, segment_limit))
          add(std::move(segment));
      } else {
        add(std::move(message));
      }
    }
    if (!commands.empty()) send_midi_packet(p, commands, now_us);
    p.queue.clear();
  }
}

void Session::tick(std::uint64_t now_us) {
  for (auto o = outgoing_.begin(); o != outgoing_.end();) {
    if (o->stage == Outgoing::Stage::joined || now_us < o->next_us) {
      ++o;
      continue;
    }
    if (o->attempts != 0 && o->tries >= o->attempts) {
      events_.push_back(InvitationFailed{o->control, false, o->name});
      o = outgoing_.erase(o);
      continue;
    }
    if (o->stage == Outgoing::Stage::data &&
        o->tries >= (o->attempts != 0 ? o->attempts : data_stage_tries)) {
      o->stage = Outgoing::Stage::control;
      o->tries = 0;
    }
    if (o->attempts == 0 && o->stage == Outgoing::Stage::control &&
        o->tries >= forever_report_tries && !o->failure_reported) {
      o->failure_reported = true;
      events_.push_back(InvitationFailed{o->control, false, o->name});
    }
    send_invitation(*o, now_us);
    ++o;
  }

  std::vector<std::uint32_t> gone;
  for (auto& [ssrc, p] : participants_) {
    if (!p.joined) {
      if (now_us >= p.since_us + config_.half_open_timeout_us) gone.push_back(ssrc);
      continue;
    }
    if (now_us >= p.heard_us + config_.peer_timeout_us) {
      send_bye(p); // in case it only lost its way back to us
      events_.push_back(ParticipantLeft{ssrc, p.name, LeaveReason::silent});
      gone.push_back(ssrc);
      continue;
    }
    if (now_us >= p.next_ck_us) send_clock(p, now_us);
    if (p.feedback_due && now_us >= p.feedback_us) {
      queue_datagram(Port::control, p.control,
                     encode(ReceiverFeedback{config_.ssrc, p.highest_seq}));
      p.feedback_due = false;
      p.feedback_us = now_us + config_.receiver_feedback_us;
    }
    if (p.journal_repeats < journal_repeat_factors.size() &&
        now_us >= p.last_midi_us +
                      config_.journal_repeat_us * journal_repeat_factors[p.journal_repeats]) {
      if (p.history.empty()) {
        p.journal_repeats = journal_repeat_factors.size();
      } else {
        send_midi_packet(p, {}, now_us);
        ++p.journal_repeats;
      }
    }
  }
  for (const std::uint32_t ssrc : gone)
    forget(ssrc, now_us);
}

void Session::leave() {
  for (auto& [ssrc, p] : participants_) {
    send_bye(p);
    if (p.joined) events_.push_back(ParticipantLeft{ssrc, p.name, LeaveReason::bye});
  }
  // A peer that accepted our control invitation holds us half joined.
  for (const Outgoing& o : outgoing_)
    if (o.stage == Outgoing::Stage::data)
      queue_datagram(
          Port::control, o.answered,
          encode(Invitation{Command::bye, apple_midi_version, o.token, config_.ssrc, {}}));
  participants_.clear();
  outgoing_.clear();
}

std::uint64_t Session::next_wakeup_us() const noexcept {
  std::uint64_t next = 0;
  const auto consider = [&](std::uint64_t t) {
    t = std::max<std::uint64_t>(t, 1); // 0 means nothing scheduled
    if (next == 0 || t < next) next = t;
  };
  for (const Outgoing& o : outgoing_)
    if (o.stage != Outgoing::Stage::joined) consider(o.next_us);
  for (const auto& [ssrc, p] : participants_) {
    if (!p.joined) {
      consider(p.since_us + config_.half_open_timeout_us);
      continue;
    }
    consider(p.heard_us + config_.peer_timeout_us);
    consider(p.next_ck_us);
    if (p.feedback_due) consider(p.feedback_us);
    if (p.journal_repeats < journal_repeat_factors.size() && !p.history.empty())
      consider(p.last_midi_us +
               config_.journal_repeat_us * journal_repeat_factors[p.journal_repeats]);
  }
  return next;
}

std::vector<Datagram> Session::take_datagrams() {
  return std::exchange(datagrams_, {});
}

std::vector<SessionEvent> Session::take_events() {
  return std::exchange(events_, {});
}

std::vector<ParticipantInfo> Session::participants() const {
  std::vector<ParticipantInfo> out;
  for (const auto& [ssrc, p] : participants_)
    out.push_back(ParticipantInfo{ssrc, p.name, p.control, p.data, p.we_invited, p.rtt_us, p.lost});
  return out;
}

Session::Participant* Session::heard_from(std::uint32_t ssrc, std::uint64_t now_us) {
  const auto it = participants_.find(ssrc);
  if (it == participants_.end()) {
    ++counters_.unknown_ssrc;
    return nullptr;
  }
  it->second.heard_us = now_us;
  return &it->second;
}

void Session::refuse(Port port, const Endpoint& to, std::uint32_t token, std::uint64_t now_us) {
  if (now_us - refusal_window_us_ >= refusal_window_us || now_us < refusal_window_us_) {
    refusal_window_us_ = now_us;
    refusals_in_window_ = 0;
  }
  if (refusals_in_window_ >= max_refusals_per_second) return;
  ++refusals_in_window_;
  queue_datagram(
      port, to,
      encode(Invitation{Command::rejected, apple_midi_version, token, config_.ssrc, config_.name}));
}

void Session::forget(std::uint32_t ssrc, std::uint64_t now_us) {
  participants_.erase(ssrc);
  // An invitation that keeps its peer starts again (--rtp-midi-connect).
  for (Outgoing& o : outgoing_) {
    if (o.stage == Outgoing::Stage::joined && o.ssrc == ssrc) {
      o.stage = Outgoing::Stage::control;
      o.token = next_token();
      o.tries = 0;
      o.failure_reported = false;
      o.next_us = now_us + config_.invite_retry_us;
    }
  }
}

void Session::send_midi_packet(Participant& p, std::span<const MidiCommand> commands,
                               std::uint64_t now_us) {
  RtpHeader header;
  header.seq = p.next_seq;
  header.timestamp = static_cast<std::uint32_t>(ticks(now_us));
  header.ssrc = config_.ssrc;
  // The journal covers the packets before this one: the receiver that gets this packet has
  // its commands.
  const MidiBytes journal = p.history.encode(header.seq);
  if (commands.empty() && journal.empty()) return;
  ++p.next_seq;
  queue_datagram(Port::data, p.data, encode_midi_packet(header, commands, journal));
  for (const MidiCommand& command : commands)
    if (!command.bytes.empty() && is_channel_voice(command.bytes.front()))
      p.history.record(header.seq, command.bytes);
  if (!commands.empty()) {
    p.last_midi_us = now_us;
    p.journal_repeats = 0;
  }
}

void Session::send_invitation(Outgoing& o, std::uint64_t now_us) {
  const bool data = o.stage == Outgoing::Stage::data;
  queue_datagram(data ? Port::data : Port::control, data ? o.data : o.control,
                 encode(Invitation{Command::invitation, apple_midi_version, o.token, config_.ssrc,
                                   config_.name}));
  ++o.tries;
  o.next_us = now_us + config_.invite_retry_us;
}

void Session::send_clock(Participant& p, std::uint64_t now_us) {
  queue_datagram(Port::data, p.data, encode(ClockSync{config_.ssrc, 0, {ticks(now_us), 0, 0}}));
  p.next_ck_us = now_us + config_.ck_interval_us;
}

void Session::send_bye(const Participant& p) {
  queue_datagram(Port::control, p.control,
                 encode(Invitation{Command::bye, apple_midi_version, p.token, config_.ssrc, {}}));
}

void Session::queue_datagram(Port port, const Endpoint& to, std::vector<std::uint8_t> bytes) {
  ++counters_.packets_out;
  datagrams_.push_back(Datagram{port, to, std::move(bytes)});
}

std::uint16_t Session::first_seq(std::uint32_t their_ssrc) const {
  return static_cast<std::uint16_t>(mix((std::uint64_t{config_.ssrc} << 32) | their_ssrc));
}

std::uint32_t Session::next_token() {
  std::uint32_t token = 0;
  while (token == 0)
    token = mix((std::uint64_t{config_.ssrc} << 32) | ++token_counter_);
  return token;
}

} // namespace midimesh::rtpmidi
