#pragma once
// How protocol v1 rides on ZeroMQ: which port carries what, and the socket options every
// midimesh socket shares (see PROTOCOL.md, "Transport").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

namespace midimesh::wire {

inline constexpr std::uint16_t default_port = 8141; // the old Python server's port

struct HostPort {
  std::string host;
  std::uint16_t port = default_port;
};

// "host", "host:port", "[v6addr]" or "[v6addr]:port"; nullopt when it is none of these.
// Without a port, `port` (the mesh's by default).
std::optional<HostPort> parse_host_port(std::string_view text, std::uint16_t port = default_port);

// Nodes publish into the hub's XSUB at the base port and subscribe at its XPUB at base + 1.
std::string publish_endpoint(const HostPort& hub);
std::string subscribe_endpoint(const HostPort& hub);

// Heartbeats on every TCP connection so a dead peer is noticed without waiting for TCP, a cap
// on frame size so garbage cannot make us allocate, fast reconnects, IPv6 allowed.
void apply_common_options(zmq::socket_t& socket);

// Shortens a TCP connection's minimum retransmission timeout from Linux's 200 ms to
// retransmission_floor_us (TCP_RTO_MIN_US, Linux 6.15 and later; a process may set it on its own
// sockets): a segment lost on Wi-Fi then costs a few ms, not 200. ZeroMQ does not expose its TCP
// sockets, so callers take `fd` from a socket monitor's CONNECTED or ACCEPTED event. False where
// the system does not offer it (older kernels, other systems): the connection keeps its default.
inline constexpr int retransmission_floor_us = 5'000;
bool shorten_retransmission(int fd) noexcept;

// Whether the route to `host` leaves through a wired interface or loopback, where packets are
// practically never lost; false for Wi-Fi, and wherever the system cannot tell (not Linux).
bool wired_towards(const std::string& host);

// The local address this machine sends from to reach `host` (a numeric address or a name),
// asked of the routing table without sending anything; empty when there is no route.
std::string local_address_towards(const std::string& host);

} // namespace midimesh::wire
