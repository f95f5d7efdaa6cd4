#pragma once
// meshbench as an RTP-MIDI participant (a Mac's network session, to a node): the product's own
// AppleMIDI session (src/rtpmidi/) driven over the product's UDP sockets (src/bridge/), so what
// is measured is the bridge as a real peer meets it, not a copy of its protocol. Single-threaded:
// the caller turns pump() often enough for the clock sync to keep the participant alive (the
// node drops it after 4 s of silence); every wait is bounded by the caller's `wait`.

#include "bridge/udp_socket.hpp"
#include "rtpmidi/session.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace meshbench {

class RtpPeer {
public:
  // Called for each session event, with the steady_us() time its datagram was read.
  using Handler =
      std::function<void(const midimesh::rtpmidi::SessionEvent& event, std::uint64_t at_us)>;

  // Binds a free pair of UDP ports. Throws midimesh::bridge::UdpError.
  explicit RtpPeer(const std::string& session_name);

  // Invites the session whose control port is `control` (up to `attempts` invitations).
  void invite(const midimesh::rtpmidi::Endpoint& control, unsigned attempts);
  // Waits up to `wait` for a datagram, then reads every waiting one, runs the session's timers
  // and sends what it queued; every event goes to `on_event`.
  void pump(std::chrono::microseconds wait, const Handler& on_event);
  // One MIDI message to every joined participant, sent at once.
  void send(std::span<const std::uint8_t> midi);
  // BY to every participant (sent at once).
  void leave();

  const midimesh::rtpmidi::SessionCounters& counters() const noexcept {
    return session_.counters();
  }

private:
  void send_datagrams();

  midimesh::bridge::UdpPortPair sockets_;
  midimesh::rtpmidi::Session session_;
  std::vector<std::uint8_t> buffer_;
};

// A pair of free UDP ports (even control port) on this host right now, for a node's
// --rtp-port: found with the product's own socket and released.
std::uint16_t find_free_rtp_port();

} // namespace meshbench
