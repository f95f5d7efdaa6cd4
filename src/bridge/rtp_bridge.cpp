#include "bridge/rtp_bridge.hpp"

#include "log/log.hpp"

#include <fmt/format.h>
#include <random>

namespace midimesh::bridge {
namespace {

constexpr std::string_view component = "rtp-midi";
constexpr int max_datagrams_per_turn = 256; // a flood must not starve the rest of the loop
constexpr std::uint64_t resolve_retry_us = 5'000'000;

std::string label(const rtpmidi::Endpoint& endpoint) {
  return endpoint.host.find(':') == std::string::npos
             ? fmt::format("{}:{}", endpoint.host, endpoint.port)
             : fmt::format("[{}]:{}", endpoint.host, endpoint.port);
}

// Throttled log lines end with this.
constexpr auto suffix = log::since_last_report;

std::uint32_t random_ssrc() {
  std::random_device device;
  return device();
}

} // namespace

RtpBridge::RtpBridge(Listener& listener, RtpConfig config, std::string (*make_id)())
    : listener_(listener), config_(std::move(config)), make_id_(make_id),
      sockets_(bind_port_pair(config_.port, config_.bind_address)),
      session_(rtpmidi::SessionConfig{.name = config_.session_name, .ssrc = random_ssrc()}),
      buffer_(65536) {
  if (port() != config_.port)
    log::info(component, "UDP port {} is taken (another RTP-MIDI session?); using {} and {}",
              config_.port, port(), port() + 1);
  log::info(component, "session \"{}\" on UDP ports {} and {}", config_.session_name, port(),
            port() + 1);
  unresolved_ = config_.invite;
}

void RtpBridge::invite_remotes(std::uint64_t now_us) {
  if (unresolved_.empty() || now_us < next_resolve_us_) return;
  std::vector<RtpConfig::Remote> still;
  for (const auto& remote : unresolved_) {
    const auto hosts = resolve_host(remote.host);
    if (hosts.empty()) {
      log::warn(component, "cannot resolve \"{}\" to invite its session; trying again in {} s",
                remote.host, resolve_retry_us / 1'000'000);
      still.push_back(remote);
      continue;
    }
    const rtpmidi::Endpoint control{hosts.front(), remote.port};
    log::info(component, "inviting the session at {}", label(control));
    session_.invite(control, now_us);
  }
  unresolved_ = std::move(still);
  next_resolve_us_ = now_us + resolve_retry_us;
}

void RtpBridge::on_readable(std::uint64_t now_us) {
  now_us_ = now_us;
  for (auto [socket, port] : {std::pair{&sockets_.control, rtpmidi::Port::control},
                              std::pair{&sockets_.data, rtpmidi::Port::data}}) {
    for (int i = 0; i < max_datagrams_per_turn; ++i) {
      const auto received = socket->receive(buffer_);
      if (!received) break;
      const std::uint64_t bad_before = bad_input();
      session_.on_datagram(port, received->from,
                           std::span(buffer_.data(), std::min(received->size, buffer_.size())),
                           now_us);
      if (bad_input() != bad_before) log_bad_input(received->from, bad_before, now_us);
    }
  }
  handle_events();
  send_datagrams();
}

void RtpBridge::tick(std::uint64_t now_us) {
  now_us_ = now_us;
  invite_remotes(now_us);
  session_.tick(now_us);
  handle_events();
  send_datagrams();
  std::uint64_t suppressed = 0;
  if (bad_log_.flush(now_us, suppressed))
    log::warn(component, "{} more bad packet(s) or refused invitation(s); counted, ignored",
              suppressed);
  if (send_log_.flush(now_us, suppressed))
    log::warn(component, "{} more packet(s) could not be sent", suppressed);
}

std::uint64_t RtpBridge::next_wakeup_us() const noexcept {
  std::uint64_t wake = session_.next_wakeup_us();
  if (!unresolved_.empty() && (!wake || next_resolve_us_ < wake)) wake = next_resolve_us_;
  return wake;
}

std::uint64_t RtpBridge::bad_input() const noexcept {
  const auto& c = session_.counters();
  return c.malformed + c.unknown_ssrc + c.version_mismatch + c.refused;
}

void RtpBridge::log_bad_input(const rtpmidi::Endpoint& from, std::uint64_t before,
                              std::uint64_t now_us) {
  std::uint64_t suppressed = 0;
  if (!bad_log_.admit(now_us, suppressed)) return;
  const auto& c = session_.counters();
  log::warn(component,
            "ignored {} bad packet(s) or invitation(s) from {} (in all: malformed {}, unknown "
            "SSRC {}, other AppleMIDI version {}, refused {}); the session goes on{}",
            bad_input() - before, label(from), c.malformed, c.unknown_ssrc, c.version_mismatch,
            c.refused, suffix(suppressed));
}

void RtpBridge::handle_events() {
  for (auto& event : session_.take_events()) {
    if (auto* joined = std::get_if<rtpmidi::ParticipantJoined>(&event)) {
      Member member{make_id_(), joined->name, joined->ssrc, joined->control};
      if (member.name.empty()) member.name = label(joined->control);
      log::info(component, "\"{}\" joined through this node (ssrc {:08x}, mesh id {}, at {})",
                member.name, member.ssrc, member.id, label(member.address));
      auto [it, _] = members_.insert_or_assign(joined->ssrc, member);
      listener_.member_joined(it->second);
    } else if (auto* midi = std::get_if<rtpmidi::ParticipantMidi>(&event)) {
      auto it = members_.find(midi->ssrc);
      if (it == members_.end()) continue;
      ++it->second.midi_out;
      it->second.midi_out_bytes += midi->message.size();
      listener_.member_played(it->second, midi->message);
    } else if (auto* left = std::get_if<rtpmidi::ParticipantLeft>(&event)) {
      auto it = members_.find(left->ssrc);
      if (it == members_.end()) continue;
      const std::string why = left->reason == rtpmidi::LeaveReason::bye ? "said goodbye"
                              : left->reason == rtpmidi::LeaveReason::silent
                                  ? "went silent"
                                  : "was replaced by a new connection";
      if (left->reason == rtpmidi::LeaveReason::silent)
        log::warn(component, "\"{}\" went silent; releasing its notes", it->second.name);
      else
        log::info(component, "\"{}\" left ({})", it->second.name, why);
      const Member member = it->second;
      members_.erase(it);
      sounding_.erase(left->ssrc);
      listener_.member_left(member, why);
    } else if (auto* failed = std::get_if<rtpmidi::InvitationFailed>(&event)) {
      if (failed->refused)
        log::warn(component, "the session at {}{} refused our invitation; asking again later",
                  label(failed->control),
                  failed->name.empty() ? "" : fmt::format(" (\"{}\")", failed->name));
      else
        log::warn(component,
                  "the session at {} does not answer our invitation; still trying (is its "
                  "MIDI network session enabled, and UDP {} and {} open?)",
                  label(failed->control), failed->control.port, failed->control.port + 1);
    }
  }
}

void RtpBridge::play(const std::string& source, std::span<const std::uint8_t> midi) {
  std::optional<std::uint32_t> except;
  for (auto& [ssrc, member] : members_) {
    if (member.id == source) {
      except = ssrc;
      continue;
    }
    ++member.midi_in;
    member.midi_in_bytes += midi.size();
    sounding_[ssrc].observe(source, midi);
  }
  if (!members_.empty()) session_.send(midi, except);
}

void RtpBridge::release(const std::string& source) {
  for (auto& [ssrc, tracker] : sounding_)
    for (const auto& off : tracker.release(source))
      session_.send_to(ssrc, off);
}

void RtpBridge::release_all() {
  for (auto& [ssrc, tracker] : sounding_)
    for (const auto& off : tracker.release_all())
      session_.send_to(ssrc, off);
}

void RtpBridge::flush(std::uint64_t now_us) {
  now_us_ = now_us;
  session_.flush(now_us);
  send_datagrams();
}

void RtpBridge::leave(std::uint64_t now_us) {
  release_all();
  session_.flush(now_us);
  session_.leave();
  send_datagrams();
  members_.clear();
}

void RtpBridge::send_datagrams() {
  for (const auto& datagram : session_.take_datagrams()) {
    auto& socket = datagram.port == rtpmidi::Port::control ? sockets_.control : sockets_.data;
    if (socket.send(datagram.to, datagram.bytes)) continue;
    std::uint64_t suppressed = 0;
    if (send_log_.admit(now_us_, suppressed))
      log::warn(component, "could not send a packet to {}{}", label(datagram.to),
                suffix(suppressed));
  }
}

} // namespace midimesh::bridge
