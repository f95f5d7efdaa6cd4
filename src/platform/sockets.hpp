#pragma once
// The BSD socket calls the edges make outside ZeroMQ (RTP-MIDI's UDP sockets, the route towards
// a hub, the host name), the same on every platform: Winsock on Windows, sockets elsewhere. A
// socket is an int here as everywhere in midimesh (see poll_item.hpp), -1 when there is none.

#ifdef _WIN32
// winsock2.h must come first.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
// clang-format on
// mingw-w64's IF_NAMESIZE names a constant it never defines.
#ifndef NDIS_IF_MAX_STRING_SIZE
#define NDIS_IF_MAX_STRING_SIZE IF_MAX_STRING_SIZE
#endif
#else
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <string>

namespace midimesh::platform {

// A close-on-exec socket, or -1 (socket_error() says why).
int open_socket(int family, int type) noexcept;
bool set_nonblocking(int fd) noexcept;
void close_socket(int fd) noexcept;
// Why the last socket call on this thread failed.
std::string socket_error();
// True when `fd` is readable now, or hung up or failed (a read then says so); never waits.
bool readable_now(int fd) noexcept;
// This computer's name on the network; "" when unknown.
std::string host_name();

#ifdef _WIN32
// Two connected loopback UDP sockets, non-blocking: fds[0] reads what fds[1] sends. Windows'
// zmq_poll polls only sockets, so this is how another thread wakes the loop there. Throws
// std::system_error.
void make_socket_pair(int fds[2]);
#endif

} // namespace midimesh::platform
