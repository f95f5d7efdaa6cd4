#pragma once
// One local AppleMIDI session and the remote participants connected to it (a Mac's network
// session, an iPad app, Windows' rtpMIDI): invitations in both directions, clock sync, receiver
// feedback, MIDI with a recovery journal, and liveness. Events in, actions out, time passed in:
// no sockets and no clock here (the bridge in src/bridge/ owns the UDP sockets).
//
// A participant joins in two steps, as AppleMIDI does: an invitation (IN/OK) on the control
// port, then one on the data port; it is "joined" when both are accepted. While joined, this
// side sends a CK0 every ck_interval_us: any packet from the participant proves it alive, and
// none for peer_timeout_us means it is gone (a laptop closed without BY).

#include "rtpmidi/recovery_journal.hpp"
#include "rtpmidi/rtp_midi_packet.hpp"
#include "rtpmidi/session_packet.hpp"
#include "rtpmidi/sysex_segments.hpp"

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace midimesh::rtpmidi {

// A UDP address as the bridge gives it: numeric host (IPv4, or IPv6 with %scope) and port.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  auto operator<=>(const Endpoint&) const = default;
};

enum class Port { control, data };

struct Datagram {
  Port port = Port::control; // which of our sockets sends it
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};

struct SessionConfig {
  std::string name;       // announced in our invitations and answers
  std::uint32_t ssrc = 0; // ours, random
  std::uint64_t ck_interval_us = 1'000'000;
  std::uint64_t peer_timeout_us = 4'000'000;
  std::uint64_t invite_retry_us = 1'000'000; // an unanswered invitation is sent again
  // A participant half joined (control but no data invitation) this long is forgotten.
  std::uint64_t half_open_timeout_us = 5'000'000;
  std::size_t max_participants = 32; // more invitations are answered NO
  // Bytes of MIDI commands per packet: below a Wi-Fi MTU, so no packet is fragmented. Larger
  // SysEx is split in segments.
  std::size_t max_packet_midi = 1200;
  // After the last MIDI to a participant, a packet with only the journal follows after these
  // delays (while the journal is not acknowledged), so a lost last note-off is still recovered.
  std::uint64_t journal_repeat_us = 50'000;
  std::uint64_t receiver_feedback_us = 250'000; // RS after receiving, at most this often
};

// What happened, for the bridge to act on.
struct ParticipantJoined {
  std::uint32_t ssrc = 0;
  std::string name;
  Endpoint control; // where its control port answered
  bool we_invited = false;
};
struct ParticipantMidi {
  std::uint32_t ssrc = 0;
  std::vector<std::uint8_t> message; // one complete MIDI message, in order
  bool recovered = false;            // made up from the journal after a loss
};
enum class LeaveReason { bye, silent, replaced };
struct ParticipantLeft {
  std::uint32_t ssrc = 0;
  std::string name;
  LeaveReason reason = LeaveReason::bye;
};
// An invitation of ours was refused (NO) or never answered after `attempts`.
struct InvitationFailed {
  Endpoint control;
  bool refused = false; // NO; false: no answer
  std::string name;     // the refusing session's name, if it gave one
};
using SessionEvent =
    std::variant<ParticipantJoined, ParticipantMidi, ParticipantLeft, InvitationFailed>;

// Bad input and losses, for the log and meshtop. Never decreasing.
struct SessionCounters {
  std::uint64_t malformed = 0;        // undecodable session or RTP packets, bad journals
  std::uint64_t unknown_ssrc = 0;     // RTP or session packets from no participant of ours
  std::uint64_t version_mismatch = 0; // invitations of another AppleMIDI version (answered NO)
  std::uint64_t refused = 0;          // invitations answered NO (full, flood, version)
  std::uint64_t lost = 0;             // packets missing in a participant's sequence
  std::uint64_t recovered = 0;        // messages played from a journal after a loss
  std::uint64_t sysex_dropped = 0;    // SysEx given up: lost segments, cancelled, too large
  std::uint64_t packets_in = 0, packets_out = 0;
};

struct ParticipantInfo {
  std::uint32_t ssrc = 0;
  std::string name;
  Endpoint control, data;
  bool we_invited = false;
  std::int64_t rtt_us = -1; // from the last complete clock sync; -1: none yet
  std::uint64_t lost = 0;
};

class Session {
public:
  explicit Session(SessionConfig config);

  // A datagram arrived on our control or data port.
  void on_datagram(Port port, const Endpoint& from, std::span<const std::uint8_t> bytes,
                   std::uint64_t now_us);
  // Invites a remote session at its control port (its data port is the next one), and keeps
  // inviting every invite_retry_us until it accepts, refuses, or `attempts` are spent
  // (0: forever, and again whenever it leaves: --rtp-midi-connect keeps its peer).
  void invite(const Endpoint& control, std::uint64_t now_us, unsigned attempts = 0);
  // Queues one complete MIDI message for every joined participant except `except_ssrc`
  // (the participant it came from, if any). Sent by flush(). A lone F7 (EOX), which RTP-MIDI
  // cannot carry, is dropped.
  void send(std::span<const std::uint8_t> message, std::optional<std::uint32_t> except_ssrc);
  // Queues one message for one joined participant only (note-offs for what a source left
  // sounding there).
  void send_to(std::uint32_t ssrc, std::span<const std::uint8_t> message);
  // Packs what send() queued into packets (journal included); call once per loop turn.
  void flush(std::uint64_t now_us);
  // Timers: clock sync, invitation retries, timeouts, journal repeats, receiver feedback.
  void tick(std::uint64_t now_us);
  // Says BY to every participant and stops inviting. Each joined one is reported as
  // ParticipantLeft{bye}, as if it had said BY itself.
  void leave();

  // When tick() wants to run next (on the now_us clock); 0: nothing scheduled.
  std::uint64_t next_wakeup_us() const noexcept;
  std::vector<Datagram> take_datagrams();
  std::vector<SessionEvent> take_events();

  const SessionCounters& counters() const noexcept { return counters_; }
  std::vector<ParticipantInfo> participants() const;
  const SessionConfig& config() const noexcept { return config_; }

private:
  // A remote session we accepted or that accepted us. Half joined (joined == false) after the
  // control-port invitation only.
  struct Participant {
    std::uint32_t ssrc = 0;
    std::string name;
    Endpoint control, data;
    std::uint32_t token = 0; // of the invitation that made the session, echoed in our BY
    bool joined = false;
    bool we_invited = false;
    std::uint64_t since_us = 0; // when the control invitation came (half-open timeout)
    std::uint64_t heard_us = 0; // the last datagram from it (liveness)
    std::uint64_t next_ck_us = 0;
    std::int64_t rtt_us = -1;
    std::uint64_t lost = 0;
    // Receiving from it.
    bool have_seq = false;
    std::uint16_t expected_seq = 0;
    std::uint16_t highest_seq = 0;
    std::uint8_t running_status = 0;
    bool feedback_due = false;     // MIDI came since our last RS
    std::uint64_t feedback_us = 0; // no RS before this
    SysexAssembler sysex;
    bool sysex_discarding = false; // the rest of a SysEx already counted as dropped
    JournalRecovery recovery;
    // Sending to it.
    std::uint16_t next_seq = 0;
    JournalHistory history;
    std::vector<std::vector<std::uint8_t>> queue;
    std::uint64_t last_midi_us = 0;
    unsigned journal_repeats = 3; // journal-only packets sent since last_midi_us (3: done)
  };
  // An invitation of ours under way (or, for one that keeps its peer, waiting for the peer to
  // leave so it starts again).
  struct Outgoing {
    enum class Stage { control, data, joined };
    Endpoint control;  // where we invite
    Endpoint answered; // where its control port answered from
    Endpoint data;     // control.port + 1 once the control stage is accepted
    std::uint32_t token = 0;
    std::uint32_t ssrc = 0; // theirs, from their control OK
    std::string name;
    unsigned attempts = 0; // 0: forever
    unsigned tries = 0;    // unanswered invitations in this stage
    Stage stage = Stage::control;
    std::uint64_t next_us = 0; // next invitation
    bool failure_reported = false;
  };

  void on_session_packet(Port port, const Endpoint& from, std::span<const std::uint8_t> bytes,
                         std::uint64_t now_us);
  void on_invitation(Port port, const Endpoint& from, const Invitation& packet,
                     std::uint64_t now_us);
  void on_answer(Port port, const Endpoint& from, const Invitation& packet, std::uint64_t now_us);
  void on_rtp(const Endpoint& from, std::span<const std::uint8_t> bytes, std::uint64_t now_us);
  void play(Participant& p, const MidiCommand& command);
  // The participant `ssrc`, now heard from; nullptr (and counted) when it is none of ours.
  Participant* heard_from(std::uint32_t ssrc, std::uint64_t now_us);
  void refuse(Port port, const Endpoint& to, std::uint32_t token, std::uint64_t now_us);
  void forget(std::uint32_t ssrc, std::uint64_t now_us);
  void send_midi_packet(Participant& p, std::span<const MidiCommand> commands,
                        std::uint64_t now_us);
  void send_invitation(Outgoing& o, std::uint64_t now_us);
  void send_clock(Participant& p, std::uint64_t now_us);
  void send_bye(const Participant& p);
  void queue_datagram(Port port, const Endpoint& to, std::vector<std::uint8_t> bytes);
  std::uint32_t next_token();
  std::uint16_t first_seq(std::uint32_t their_ssrc) const;

  SessionConfig config_;
  SessionCounters counters_;
  std::map<std::uint32_t, Participant> participants_;
  std::vector<Outgoing> outgoing_;
  std::vector<Datagram> datagrams_;
  std::vector<SessionEvent> events_;
  std::uint32_t token_counter_ = 0;
  // Our NO answers, at most max_refusals_per_second: a flood of invitations is not amplified.
  std::uint64_t refusal_window_us_ = 0;
  unsigned refusals_in_window_ = 0;
};

} // namespace midimesh::rtpmidi
