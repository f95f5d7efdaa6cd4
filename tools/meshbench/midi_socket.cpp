#include "midi_socket.hpp"

#include "bench_mesh.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace meshbench {
namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) throw BenchError("socket path too long: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

int packet_socket() noexcept {
  return ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

} // namespace

UniqueFd::UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(std::exchange(other.fd_, -1));
  return *this;
}

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool MidiInlet::send(std::span<const std::uint8_t> message) noexcept {
  if (fd_.get() < 0) {
    UniqueFd fd(packet_socket());
    sockaddr_un address{};
    try {
      address = address_of(path_);
    } catch (...) {
      return false;
    }
    if (fd.get() < 0 ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      return false; // the node has not bound its input yet
    fd_ = std::move(fd);
  }
  if (::send(fd_.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
    return true;
  if (errno != EAGAIN && errno != EWOULDBLOCK) fd_.reset(); // the node went away
  return false;
}

MidiOutlet::MidiOutlet(std::string path) : path_(std::move(path)), listener_(packet_socket()) {
  const sockaddr_un address = address_of(path_);
  ::unlink(path_.c_str());
  if (listener_.get() < 0 ||
      ::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener_.get(), 4) != 0)
    throw BenchError("cannot listen on " + path_ + ": " + std::strerror(errno));
}

MidiOutlet::~MidiOutlet() {
  if (listener_.get() >= 0) ::unlink(path_.c_str());
}

void MidiOutlet::accept() noexcept {
  const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) connection_.reset(fd);
}

int MidiOutlet::receive(std::uint8_t* buffers, std::size_t size, std::size_t* sizes,
                        int count) noexcept {
  if (connection_.get() < 0) return 0;
  constexpr int most = 256;
  iovec vectors[most];
  mmsghdr headers[most] = {};
  count = std::min(count, most);
  for (int i = 0; i < count; ++i) {
    vectors[i] = {buffers + i * size, size};
    headers[i].msg_hdr.msg_iov = &vectors[i];
    headers[i].msg_hdr.msg_iovlen = 1;
  }
  const int taken = ::recvmmsg(connection_.get(), headers, count, MSG_DONTWAIT, nullptr);
  if (taken < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  if (taken <= 0 || headers[0].msg_len == 0) { // closed: recvmmsg reads an empty end packet
    connection_.reset();
    return -1;
  }
  for (int i = 0; i < taken; ++i)
    sizes[i] = headers[i].msg_len;
  return taken;
}

} // namespace meshbench
