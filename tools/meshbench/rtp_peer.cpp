#include "rtp_peer.hpp"

#include "receiver.hpp"

#include <algorithm>
#include <poll.h>
#include <random>

namespace meshbench {
namespace {

namespace rtp = midimesh::rtpmidi;

constexpr int reads_per_pump = 64; // per socket: a flood cannot hold the caller

rtp::SessionConfig config_of(const std::string& name) {
  rtp::SessionConfig config;
  config.name = name;
  std::random_device device;
  config.ssrc = std::uniform_int_distribution<std::uint32_t>(1)(device);
  return config;
}

// bind_port_pair walks up from its start; a random even start keeps two meshbench runs (and a
// node's default 5004) apart.
std::uint16_t random_even_port() {
  std::random_device device;
  return static_cast<std::uint16_t>(2 * std::uniform_int_distribution<int>(20'000, 29'999)(device));
}

} // namespace

RtpPeer::RtpPeer(const std::string& session_name)
    : sockets_(midimesh::bridge::bind_port_pair(random_even_port())),
      session_(config_of(session_name)), buffer_(64 * 1024) {}

void RtpPeer::invite(const rtp::Endpoint& control, unsigned attempts) {
  session_.invite(control, steady_us(), attempts);
  send_datagrams();
}

void RtpPeer::pump(std::chrono::microseconds wait, const Handler& on_event) {
  pollfd fds[2] = {{sockets_.control.fd(), POLLIN, 0}, {sockets_.data.fd(), POLLIN, 0}};
  const auto us = std::max<std::int64_t>(0, wait.count());
  const timespec timeout{static_cast<time_t>(us / 1'000'000),
                         static_cast<long>(us % 1'000'000) * 1000};
  (void)::ppoll(fds, 2, &timeout, nullptr); // microseconds: poll()'s milliseconds pace badly
  auto deliver = [&](std::uint64_t at_us) {
    for (const auto& event : session_.take_events())
      on_event(event, at_us);
  };
  const std::pair<rtp::Port, midimesh::bridge::UdpSocket*> sockets[] = {
      {rtp::Port::control, &sockets_.control}, {rtp::Port::data, &sockets_.data}};
  for (const auto& [port, socket] : sockets)
    for (int i = 0; i < reads_per_pump; ++i) {
      const auto got = socket->receive(buffer_);
      if (!got) break;
      const std::uint64_t now = steady_us();
      session_.on_datagram(port, got->from, std::span(buffer_.data(), got->size), now);
      deliver(now);
    }
  const std::uint64_t now = steady_us();
  const std::uint64_t due = session_.next_wakeup_us();
  if (due != 0 && due <= now) session_.tick(now);
  session_.flush(now);
  send_datagrams();
  deliver(now);
}

void RtpPeer::send(std::span<const std::uint8_t> midi) {
  session_.send(midi, std::nullopt);
  session_.flush(steady_us());
  send_datagrams();
}

void RtpPeer::leave() {
  session_.leave();
  send_datagrams();
}

void RtpPeer::send_datagrams() {
  for (const auto& d : session_.take_datagrams())
    (void)(d.port == rtp::Port::control ? sockets_.control : sockets_.data).send(d.to, d.bytes);
}

std::uint16_t find_free_rtp_port() {
  return midimesh::bridge::bind_port_pair(random_even_port()).control.port();
}

} // namespace meshbench
