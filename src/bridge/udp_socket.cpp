#include "bridge/udp_socket.hpp"

#include "platform/sockets.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <utility>

namespace midimesh::bridge {
namespace {

rtpmidi::Endpoint endpoint_of(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    return {text, ntohs(in.sin_port)};
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
  if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
    ::inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], text, sizeof text);
    return {text, ntohs(in6.sin6_port)};
  }
  ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
  std::string host = text;
  if (in6.sin6_scope_id) {
    char name[IF_NAMESIZE] = {};
    host += '%';
    host += ::if_indextoname(in6.sin6_scope_id, name) ? name : std::to_string(in6.sin6_scope_id);
  }
  return {host, ntohs(in6.sin6_port)};
}

// The peer's address for our dual-stack socket: IPv4 as a v4-mapped IPv6 address.
bool to_sockaddr(const rtpmidi::Endpoint& to, sockaddr_in6& out) {
  out = {};
  out.sin6_family = AF_INET6;
  out.sin6_port = htons(to.port);
  in_addr v4{};
  if (::inet_pton(AF_INET, to.host.c_str(), &v4) == 1) {
    out.sin6_addr.s6_addr[10] = 0xff;
    out.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&out.sin6_addr.s6_addr[12], &v4, 4);
    return true;
  }
  std::string host = to.host;
  if (const auto percent = host.find('%'); percent != std::string::npos) {
    const std::string scope = host.substr(percent + 1);
    host.resize(percent);
    out.sin6_scope_id = ::if_nametoindex(scope.c_str());
    if (!out.sin6_scope_id)
      out.sin6_scope_id = static_cast<std::uint32_t>(std::atoi(scope.c_str()));
  }
  return ::inet_pton(AF_INET6, host.c_str(), &out.sin6_addr) == 1;
}

} // namespace

UdpSocket::UdpSocket(std::uint16_t port, const std::string& address_text) {
  fd_ = platform::open_socket(AF_INET6, SOCK_DGRAM);
  if (fd_ < 0)
    throw UdpError(fmt::format("cannot open a UDP socket: {}", platform::socket_error()));
  const int off = 0;
  (void)::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&off),
                     sizeof off);
  platform::set_nonblocking(fd_);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_any;
  if (address_text != "*" && !address_text.empty() && !to_sockaddr({address_text, port}, address)) {
    platform::close_socket(fd_);
    fd_ = -1;
    throw UdpError(fmt::format("\"{}\" is not a numeric address to listen on", address_text));
  }
  address.sin6_port = htons(port);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const std::string error = platform::socket_error();
    platform::close_socket(fd_);
    fd_ = -1;
    throw UdpError(fmt::format("cannot bind UDP port {}: {}", port, error));
  }
  socklen_t length = sizeof address;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin6_port);
}

UdpSocket::~UdpSocket() {
  platform::close_socket(fd_);
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    platform::close_socket(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

std::optional<UdpSocket::Received> UdpSocket::receive(std::span<std::uint8_t> buffer) {
  sockaddr_storage from{};
  socklen_t length = sizeof from;
  const auto n =
      ::recvfrom(fd_, reinterpret_cast<char*>(buffer.data()), static_cast<int>(buffer.size()), 0,
                 reinterpret_cast<sockaddr*>(&from), &length);
  if (n < 0) return std::nullopt;
  return Received{endpoint_of(from), static_cast<std::size_t>(n)};
}

bool UdpSocket::send(const rtpmidi::Endpoint& to, std::span<const std::uint8_t> bytes) {
  sockaddr_in6 address{};
  if (!to_sockaddr(to, address)) return false;
  const auto n =
      ::sendto(fd_, reinterpret_cast<const char*>(bytes.data()), static_cast<int>(bytes.size()), 0,
               reinterpret_cast<const sockaddr*>(&address), sizeof address);
  return n >= 0 && static_cast<std::size_t>(n) == bytes.size();
}

UdpPortPair bind_port_pair(std::uint16_t port, const std::string& address) {
  auto try_pair = [&](std::uint16_t control_port) -> std::optional<UdpPortPair> {
    try {
      UdpSocket control(control_port, address);
      UdpSocket data(static_cast<std::uint16_t>(control.port() + 1), address);
      return UdpPortPair{std::move(control), std::move(data)};
    } catch (const UdpError&) {
      return std::nullopt;
    }
  };
  for (unsigned i = 0; i < 100 && port + 2 * i < 65535; ++i)
    if (auto pair = try_pair(static_cast<std::uint16_t>(port + 2 * i))) return std::move(*pair);
  // Let the kernel pick the control port; its neighbour may be taken, so try a few. Only even
  // ones: AppleMIDI's control port is even by custom, and some peers rely on it.
  for (int i = 0; i < 40; ++i)
    if (auto pair = try_pair(0); pair && pair->control.port() % 2 == 0) return std::move(*pair);
  throw UdpError(fmt::format("no free pair of UDP ports at or after {}", port));
}

std::vector<std::string> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return {};
  std::vector<std::string> v4, v6;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    sockaddr_storage storage{};
    std::memcpy(&storage, a->ai_addr, std::min<std::size_t>(a->ai_addrlen, sizeof storage));
    const std::string text = endpoint_of(storage).host;
    auto& list = a->ai_family == AF_INET ? v4 : v6;
    if (std::find(list.begin(), list.end(), text) == list.end()) list.push_back(text);
  }
  ::freeaddrinfo(found);
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

} // namespace midimesh::bridge
