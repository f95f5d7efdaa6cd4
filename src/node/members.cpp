// RTP-MIDI participants (a Mac, an iPad, Windows' rtpMIDI) as members of the mesh. The bridge
// gives each a mesh id; the node publishes on its behalf under that id, in a sequence of its own,
// with hellos (so receivers time it out like a node if this node dies), goodbye when it leaves,
// and a status report for meshtop. What it plays comes back through the hub like anyone's
// message, and deliver() plays it here and to the other participants, never to itself.

#include "log/log.hpp"
#include "midimesh_config.h"
#include "node/node.hpp"

#include <chrono>

namespace midimesh::node {
namespace {

std::uint64_t wall_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string host_of(const rtpmidi::Endpoint& endpoint) {
  return endpoint.host;
}

} // namespace

void Node::start_rtp_midi() {
  if (!config_.rtp_midi) {
    log::info("rtp-midi", "RTP-MIDI session disabled (--no-rtp-midi)");
    return;
  }
  if (config_.security.secured() && !config_.rtp_midi_open) {
    log::info("rtp-midi",
              "no RTP-MIDI session: mesh \"{}\" is secured and AppleMIDI has no password. "
              "--rtp-midi-open lets Macs and iPads join through this node (and anyone else on "
              "the network)",
              config_.mesh);
    return;
  }
  config_.rtp.bind_address = config_.bind_address;
  if (config_.rtp.session_name.empty())
    config_.rtp.session_name = fmt::format("midimesh {} ({})", config_.mesh, config_.name);
  bridge::RtpBridge::Listener& listener = *this; // a private base: convert here
  try {
    try {
      rtp_ = std::make_unique<bridge::RtpBridge>(listener, config_.rtp, &make_node_id);
    } catch (const bridge::UdpError& e) {
      if (config_.rtp.bind_address == "*") throw;
      // --bind may name an interface, which ZeroMQ understands and a UDP socket does not.
      log::warn("rtp-midi", "{}; the RTP-MIDI session listens on every interface instead",
                e.what());
      config_.rtp.bind_address = "*";
      rtp_ = std::make_unique<bridge::RtpBridge>(listener, config_.rtp, &make_node_id);
    }
  } catch (const bridge::UdpError& e) {
    log::error("rtp-midi",
               "no RTP-MIDI session: {}. Macs and iPads cannot join through this node; the "
               "node goes on without.",
               e.what());
    return;
  }
#ifdef MIDIMESH_HAVE_DNS_SD
  rtp_advertisement_ = discovery::make_dns_sd_advertisement(discovery::apple_midi_service_type,
                                                            config_.rtp.session_name, rtp_->port());
#endif
}

wire::Hello Node::member_hello(const bridge::Member& member) const {
  wire::Hello h;
  h.name = member.name;
  h.role = wire::Role::node;
  h.program = fmt::format("RTP-MIDI through midimesh {}", MIDIMESH_VERSION);
  h.mesh = config_.mesh;
  h.eligible = false;
  h.hub = steering_.hub();
  h.term = steering_.term();
  h.kind = "rtp";
  h.via = link_.id();
  return h;
}

void Node::member_joined(const bridge::Member& member) {
  ++counters_.rtp_joined;
  member_seqs_[member.id] = {.joined_us = now_us_};
  auto& seqs = member_seqs_[member.id];
  (void)link_.publish_as(member.id, seqs.next_seq, wire::MessageType::hello,
                         wire::encode_payload(member_hello(member)), wall_now_us());
}

void Node::member_played(const bridge::Member& member, std::span<const std::uint8_t> midi) {
  auto it = member_seqs_.find(member.id);
  if (it == member_seqs_.end()) return;
  if (midi.size() > wire::max_midi_size) {
    ++counters_.oversize_input;
    return;
  }
  if (link_.publish_as(member.id, it->second.next_seq, wire::MessageType::midi, midi,
                       wall_now_us()) == MeshLink::Published::dropped)
    ++counters_.publish_failed;
}

void Node::member_left(const bridge::Member& member, const std::string& why) {
  auto it = member_seqs_.find(member.id);
  if (it == member_seqs_.end()) return;
  // Its goodbye comes back to this node through the hub too: every member, here and
  // elsewhere, releases its notes the same way.
  (void)link_.publish_as(member.id, it->second.next_seq, wire::MessageType::goodbye,
                         wire::encode_payload(wire::Goodbye{"RTP-MIDI participant " + why}),
                         wall_now_us());
  member_seqs_.erase(it);
}

void Node::send_member_hellos() {
  if (!rtp_ || !link_.ready()) return;
  for (const auto& [ssrc, member] : rtp_->members()) {
    auto it = member_seqs_.find(member.id);
    if (it == member_seqs_.end()) continue;
    (void)link_.publish_as(member.id, it->second.next_seq, wire::MessageType::hello,
                           wire::encode_payload(member_hello(member)), wall_now_us());
  }
}

void Node::report_members(std::uint64_t now_us) {
  if (!rtp_) return;
  std::map<std::uint32_t, rtpmidi::ParticipantInfo> infos;
  for (auto& info : rtp_->participants())
    infos[info.ssrc] = info;
  for (const auto& [ssrc, member] : rtp_->members()) {
    auto it = member_seqs_.find(member.id);
    if (it == member_seqs_.end()) continue;
    wire::Status s;
    s.name = member.name;
    s.host = host_of(member.address);
    s.program = "RTP-MIDI";
    s.mesh = config_.mesh;
    s.role = "node";
    s.hub = steering_.hub();
    s.term = steering_.term();
    s.uptime_ms = (now_us - it->second.joined_us) / 1000; // meshtop's rates are timed by it
    s.midi_in = member.midi_in;
    s.midi_in_bytes = member.midi_in_bytes;
    s.midi_out = member.midi_out;
    s.midi_out_bytes = member.midi_out_bytes;
    if (auto info = infos.find(ssrc); info != infos.end()) {
      s.lost = info->second.lost;
      s.rtt_us = info->second.rtt_us;
    }
    s.kind = "rtp";
    s.via = link_.id();
    (void)link_.publish_report(wire::MessageType::status, wire::encode_payload(s), wall_now_us(),
                               it->second.status_seq++, member.id);
  }
}

void Node::members_leave(const std::string& why) {
  if (!rtp_) return;
  for (const auto& [ssrc, member] : rtp_->members())
    member_left(member, why);
  rtp_->leave(now_us_);
}

} // namespace midimesh::node
