#pragma once
// A non-blocking UDP socket bound to one port on every interface, IPv6 and IPv4 alike (a
// dual-stack socket: IPv4 peers appear as plain dotted addresses). Addresses in and out are the
// numeric Endpoints the RTP-MIDI session speaks, so the session stays free of socket types.

#include "rtpmidi/session.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace midimesh::bridge {

class UdpError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class UdpSocket {
public:
  // Binds `port` (0: any free port) on `address` (numeric; "*": every interface). Throws
  // UdpError when it cannot (e.g. the port is taken).
  explicit UdpSocket(std::uint16_t port, const std::string& address = "*");
  ~UdpSocket();
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const noexcept { return fd_; }
  std::uint16_t port() const noexcept { return port_; }

  struct Received {
    rtpmidi::Endpoint from;
    std::size_t size = 0;
  };
  // One datagram into `buffer`, or nothing when none is waiting. A datagram larger than the
  // buffer is cut to it.
  std::optional<Received> receive(std::span<std::uint8_t> buffer);
  // False when the datagram could not be handed to the kernel (unreachable, buffer full, an
  // address that is not numeric).
  bool send(const rtpmidi::Endpoint& to, std::span<const std::uint8_t> bytes);

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Two sockets on adjacent ports, control and data, as AppleMIDI needs: `port` and port + 1 when
// free, otherwise the first free pair after it (up to 100 tries), then any free pair with an
// even control port.
struct UdpPortPair {
  UdpSocket control;
  UdpSocket data;
};
UdpPortPair bind_port_pair(std::uint16_t port, const std::string& address = "*");

// Resolves HOST (a name or a numeric address) to numeric addresses, IPv4 first. Blocking: for
// start-up and rare retries only. Empty when it does not resolve.
std::vector<std::string> resolve_host(const std::string& host);

} // namespace midimesh::bridge
