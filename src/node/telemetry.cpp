// What a node tells meshtop: a status report about once a second (numbered on its own; the hub
// sends it to its monitor port only, so watching the mesh costs the nodes nothing), and the
// ping/pong through the mesh that measures the round trip to the hub and the clock offset.

#include "midimesh_config.h"
#include "node/node.hpp"
#include "platform/sockets.hpp"

#include <chrono>

namespace midimesh::node {
namespace {

constexpr std::uint64_t status_interval_us = 1'000'000;

std::uint64_t wall_clock_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

void Node::report(std::uint64_t now_us) {
  if (now_us < next_status_us_ || !link_.ready()) return;
  next_status_us_ = now_us + status_interval_us;
  // Ping first: the answer comes back through the hub within the round trip measured.
  if (!is_hub() && !steering_.hub().empty()) {
    const wire::Ping ping{steering_.hub(), wall_clock_us()};
    (void)link_.publish(wire::MessageType::ping, wire::encode_payload(ping), ping.t0);
  }
  wire::Status s;
  s.name = config_.name;
  s.host = platform::host_name();
  s.program = std::string("midimesh ") + MIDIMESH_VERSION;
  s.mesh = config_.mesh;
  s.role = is_hub() ? "hub" : "node";
  s.hub = steering_.hub();
  s.term = steering_.term();
  s.uptime_ms = (now_us - started_us_) / 1000;
  s.midi_in = counters_.midi_received;
  s.midi_in_bytes = counters_.midi_received_bytes;
  s.midi_out = counters_.midi_sent;
  s.midi_out_bytes = counters_.midi_sent_bytes;
  s.lost = counters_.lost;
  s.malformed = counters_.malformed;
  s.rtt_us = is_hub() ? 0 : rtt_us_;
  s.offset_us = is_hub() ? 0 : offset_us_;
  s.peers = peers_.peers().size();
  s.refused = counters_.failed_handshakes + counters_.refused_peers + counters_.refused_claims +
              (hub_ ? hub_->counters().rejected_connections : 0);
  if (is_hub() && hub_)
    s.hub_dropped = hub_->counters().budget_dropped + hub_->counters().queue_dropped;
  if (rtp_) {
    s.rtp_port = rtp_->port();
    s.rtp_lost = rtp_->counters().lost;
    s.rtp_recovered = rtp_->counters().recovered;
    s.rtp_bad = rtp_->bad_input();
  }
  (void)link_.publish_report(wire::MessageType::status, wire::encode_payload(s), wall_clock_us(),
                             status_seq_++);
  report_members(now_us);
}

void Node::on_ping(const wire::Envelope& envelope) {
  const auto ping = wire::decode_ping(envelope.payload);
  if (!ping) {
    ++counters_.malformed;
    return;
  }
  if (ping->to != link_.id()) return; // for another hub, or we are not it
  const wire::Pong pong{envelope.sender, ping->t0, wall_clock_us()};
  (void)link_.publish(wire::MessageType::pong, wire::encode_payload(pong), pong.t1);
}

void Node::on_pong(const wire::Envelope& envelope) {
  const auto pong = wire::decode_pong(envelope.payload);
  if (!pong) {
    ++counters_.malformed;
    return;
  }
  if (pong->to != link_.id() || envelope.sender != steering_.hub()) return;
  const std::uint64_t now = wall_clock_us();
  if (now < pong->t0) return; // our clock stepped back: no measurement
  rtt_us_ = static_cast<std::int64_t>(now - pong->t0);
  // The hub read its clock about half a round trip after we read ours.
  offset_us_ = static_cast<std::int64_t>(pong->t1) -
               static_cast<std::int64_t>(pong->t0 + static_cast<std::uint64_t>(rtt_us_ / 2));
}

} // namespace midimesh::node
