#include "wire/transport.hpp"

#include "platform/sockets.hpp"
#include "wire/envelope.hpp"

#include <charconv>
#include <filesystem>
#ifndef _WIN32
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace midimesh::wire {
namespace {

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65534)
    return std::nullopt; // 65535 is out: base + 1 must be a port too
  return static_cast<std::uint16_t>(value);
}

std::string endpoint(const HostPort& hub, std::uint16_t port) {
  const bool v6 = hub.host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + hub.host + "]" : hub.host) + ":" + std::to_string(port);
}

} // namespace

std::optional<HostPort> parse_host_port(std::string_view text, std::uint16_t port_if_none) {
  HostPort result;
  result.port = port_if_none;
  std::string_view rest;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    result.host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    const auto colon = text.find(':');
    if (colon != text.rfind(':')) return std::nullopt; // bare IPv6 needs brackets
    result.host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (result.host.empty()) return std::nullopt;
  if (!rest.empty()) {
    if (rest[0] != ':') return std::nullopt;
    auto port = parse_port(rest.substr(1));
    if (!port) return std::nullopt;
    result.port = *port;
  }
  return result;
}

std::string publish_endpoint(const HostPort& hub) {
  return endpoint(hub, hub.port);
}
std::string subscribe_endpoint(const HostPort& hub) {
  return endpoint(hub, static_cast<std::uint16_t>(hub.port + 1));
}

void apply_common_options(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::ipv6, 1);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_frame_size));
  // libzmq times a connection out also while its peer is alive and sending, when this side does
  // not read: its queue is full, or the process was starved of CPU (the timer fires before the
  // waiting bytes are read; libzmq issues 2709, 4767). At 1 s a busy hub cut its busiest
  // senders and lost what was in flight; 5 s rides out a stall, and a dead peer's queue is
  // bounded meanwhile (the hub's queued bytes).
  socket.set(zmq::sockopt::heartbeat_ivl, 250);
  socket.set(zmq::sockopt::heartbeat_timeout, 5000);
  socket.set(zmq::sockopt::heartbeat_ttl, 5000);
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 1000);
  socket.set(zmq::sockopt::linger, 0);
}

bool shorten_retransmission(int fd) noexcept {
#ifdef __linux__
  constexpr int tcp_rto_min_us = 45; // <linux/tcp.h> of 6.15; Debian 12's headers predate it
  const int floor = retransmission_floor_us;
  return ::setsockopt(fd, IPPROTO_TCP, tcp_rto_min_us, &floor, sizeof floor) == 0;
#else
  (void)fd;
  return false;
#endif
}

bool wired_towards(const std::string& host) {
#ifdef __linux__
  std::string local = local_address_towards(host);
  if (local.empty()) return false;
  // An IPv4 address written as IPv6 (ZeroMQ's endpoints on a dual-stack socket) is listed by
  // its interface as IPv4.
  if (local.starts_with("::ffff:") && local.find('.') != std::string::npos) local = local.substr(7);
  ifaddrs* interfaces = nullptr;
  if (::getifaddrs(&interfaces) != 0) return false;
  bool wired = false;
  for (const ifaddrs* i = interfaces; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
      continue;
    const socklen_t length =
        i->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 1] = {};
    if (::getnameinfo(i->ifa_addr, length, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0 ||
        local != text)
      continue;
    // The kernel gives every Wi-Fi interface a "wireless" (or "phy80211") entry in sysfs.
    const std::filesystem::path sys = std::filesystem::path("/sys/class/net") / i->ifa_name;
    std::error_code ignored;
    wired = (i->ifa_flags & IFF_LOOPBACK) != 0 ||
            (!std::filesystem::exists(sys / "wireless", ignored) &&
             !std::filesystem::exists(sys / "phy80211", ignored));
    break;
  }
  ::freeifaddrs(interfaces);
  return wired;
#else
  (void)host;
  return false;
#endif
}

std::string local_address_towards(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  // The port does not matter: a UDP connect only picks the route and the source address.
  if (::getaddrinfo(host.c_str(), "9", &hints, &found) != 0) return {};
  std::string address;
  for (const addrinfo* a = found; a && address.empty(); a = a->ai_next) {
    const int fd = platform::open_socket(a->ai_family, SOCK_DGRAM);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    char text[INET6_ADDRSTRLEN] = {};
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
        ::getnameinfo(reinterpret_cast<sockaddr*>(&local), length, text, sizeof text, nullptr, 0,
                      NI_NUMERICHOST) == 0)
      address = text;
    platform::close_socket(fd);
  }
  ::freeaddrinfo(found);
  return address;
}

} // namespace midimesh::wire
