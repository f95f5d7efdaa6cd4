#include "platform/sockets.hpp"

#include <mutex>
#include <system_error>

namespace midimesh::platform {
namespace {

// Winsock needs WSAStartup before the first call; ZeroMQ starts it for its own context, but the
// host name is asked for before any context exists.
void start_winsock() {
  static std::once_flag once;
  std::call_once(once, [] {
    WSADATA data;
    (void)::WSAStartup(MAKEWORD(2, 2), &data);
  });
}

} // namespace

int open_socket(int family, int type) noexcept {
  start_winsock();
  // Windows sockets are not inherited by children unless asked for; SOCKET values fit in 32 bits.
  const SOCKET s = ::WSASocketW(family, type, 0, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
  return s == INVALID_SOCKET ? -1 : static_cast<int>(s);
}

bool set_nonblocking(int fd) noexcept {
  u_long on = 1;
  return ::ioctlsocket(static_cast<SOCKET>(fd), FIONBIO, &on) == 0;
}

void close_socket(int fd) noexcept {
  if (fd >= 0) ::closesocket(static_cast<SOCKET>(fd));
}

std::string socket_error() {
  return std::system_category().message(::WSAGetLastError());
}

bool readable_now(int fd) noexcept {
  WSAPOLLFD entry{static_cast<SOCKET>(fd), POLLIN, 0};
  return ::WSAPoll(&entry, 1, 0) > 0 && (entry.revents & (POLLIN | POLLHUP | POLLERR));
}

std::string host_name() {
  start_winsock();
  char buffer[256] = {};
  return ::gethostname(buffer, sizeof buffer - 1) == 0 ? buffer : "";
}

void make_socket_pair(int fds[2]) {
  int a = open_socket(AF_INET, SOCK_DGRAM);
  int b = open_socket(AF_INET, SOCK_DGRAM);
  auto fail = [&](const char* what) {
    const int error = ::WSAGetLastError();
    close_socket(a);
    close_socket(b);
    throw std::system_error(error, std::system_category(), what);
  };
  if (a < 0 || b < 0) fail("cannot open a loopback socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sockaddr_in bound[2] = {};
  const int ends[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    int length = sizeof bound[i];
    if (::bind(static_cast<SOCKET>(ends[i]), reinterpret_cast<const sockaddr*>(&address),
               sizeof address) != 0 ||
        ::getsockname(static_cast<SOCKET>(ends[i]), reinterpret_cast<sockaddr*>(&bound[i]),
                      &length) != 0)
      fail("cannot bind a loopback socket");
  }
  // Connected both ways: each end takes datagrams from the other alone.
  for (int i = 0; i < 2; ++i)
    if (::connect(static_cast<SOCKET>(ends[i]), reinterpret_cast<const sockaddr*>(&bound[1 - i]),
                  sizeof bound[1 - i]) != 0)
      fail("cannot connect a loopback socket pair");
  if (!set_nonblocking(a) || !set_nonblocking(b))
    fail("cannot make a loopback socket non-blocking");
  fds[0] = a;
  fds[1] = b;
}

} // namespace midimesh::platform
