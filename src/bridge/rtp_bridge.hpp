#pragma once
// The node's RTP-MIDI session on the network: a Mac, an iPad or a Windows rtpMIDI session that
// connects to it becomes a member of the mesh. The bridge owns the two UDP sockets and drives
// the pure rtpmidi::Session with them; it tells its Listener (the node) who joined, what they
// played and who left, and plays what the mesh sends to every participant but its source.
//
// Each participant gets a mesh id of its own (like a node's), so the mesh treats it as a
// member: its MIDI reaches everyone else, never itself, and its notes are released everywhere
// when it leaves. The node publishes on its behalf.

#include "bridge/udp_socket.hpp"
#include "log/throttle.hpp"
#include "midi/note_tracker.hpp"
#include "rtpmidi/session.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace midimesh::bridge {

struct RtpConfig {
  std::uint16_t port = 5004; // control port; data is port + 1
  std::string bind_address = "*"; // numeric, or "*": every interface (as --bind)
  std::string session_name;  // announced to participants and by mDNS
  // Sessions to invite (--rtp-midi-connect), each "HOST" or "HOST:PORT" already split.
  struct Remote {
    std::string host;
    std::uint16_t port = 5004;
  };
  std::vector<Remote> invite;
};

// A participant as a mesh member.
struct Member {
  std::string id;   // its mesh id
  std::string name; // its session name, as it announced it
  std::uint32_t ssrc = 0;
  rtpmidi::Endpoint address;                      // its control port
  std::uint64_t midi_in = 0, midi_in_bytes = 0;   // from the mesh, sent to it
  std::uint64_t midi_out = 0, midi_out_bytes = 0; // from it, into the mesh
};

class RtpBridge {
public:
  class Listener {
  public:
    virtual ~Listener() = default;
    virtual void member_joined(const Member& member) = 0;
    // One complete MIDI message the member played (or that its journal recovered).
    virtual void member_played(const Member& member, std::span<const std::uint8_t> midi) = 0;
    // It said goodbye (BY) or went silent; `why` says which, for the log and the goodbye.
    virtual void member_left(const Member& member, const std::string& why) = 0;
  };

  // Binds the ports (the next free pair when taken). Throws UdpError when no pair is free.
  // make_id gives each participant its mesh id.
  RtpBridge(Listener& listener, RtpConfig config, std::string (*make_id)());

  std::vector<int> fds() const { return {sockets_.control.fd(), sockets_.data.fd()}; }
  std::uint16_t port() const noexcept { return sockets_.control.port(); }
  const std::string& session_name() const noexcept { return config_.session_name; }
  // Reads what arrived on either socket (bounded per call).
  void on_readable(std::uint64_t now_us);
  void tick(std::uint64_t now_us);
  std::uint64_t next_wakeup_us() const noexcept;

  // MIDI from the mesh (or this node's own input): to every participant but `source`'s.
  void play(const std::string& source, std::span<const std::uint8_t> midi);
  // Note-offs (and sustain off) for what `source` left sounding at the participants.
  void release(const std::string& source);
  void release_all();
  // Sends what play() queued: call once per loop turn.
  void flush(std::uint64_t now_us);
  // BY to every participant. Their members are not reported as left: the node says goodbye for
  // them itself.
  void leave(std::uint64_t now_us);

  const std::map<std::uint32_t, Member>& members() const noexcept { return members_; }
  const rtpmidi::SessionCounters& counters() const noexcept { return session_.counters(); }
  std::vector<rtpmidi::ParticipantInfo> participants() const { return session_.participants(); }
  // Bad input of every kind, for one counter in meshtop.
  std::uint64_t bad_input() const noexcept;

private:
  void send_datagrams();
  void handle_events();
  void log_bad_input(const rtpmidi::Endpoint& from, std::uint64_t before, std::uint64_t now_us);
  void invite_remotes(std::uint64_t now_us);

  Listener& listener_;
  RtpConfig config_;
  std::string (*make_id_)();
  UdpPortPair sockets_;
  rtpmidi::Session session_;
  std::map<std::uint32_t, Member> members_;
  // What the mesh left sounding at each participant, by source: released when a source leaves.
  std::map<std::uint32_t, midi::NoteTracker> sounding_;
  // Remotes whose host name did not resolve yet: retried now and then.
  std::vector<RtpConfig::Remote> unresolved_;
  std::uint64_t next_resolve_us_ = 1; // at once
  std::vector<std::uint8_t> buffer_;
  log::Throttle bad_log_, send_log_;
  std::uint64_t now_us_ = 0; // when the loop last called in: for the throttled logs
};

} // namespace midimesh::bridge
