#include "midi_socket.hpp"

#include "bench_mesh.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
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

int unix_socket(int type) noexcept {
  return ::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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

bool MidiInlet::play(std::span<const std::uint8_t> message) noexcept {
  if (fd_.get() < 0) {
    UniqueFd fd(unix_socket(SOCK_SEQPACKET));
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

MidiOutlet::MidiOutlet(const std::string& port_name)
    : path_(port_name + "-out"), listener_(unix_socket(SOCK_STREAM)) {
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

int MidiOutlet::receive(std::vector<std::span<const std::uint8_t>>& out) {
  if (connection_.get() < 0) return 0;
  constexpr std::size_t prefix = 4, chunk = 256 * 1024;
  // Keep the unfinished tail of the last read at the front.
  std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(parsed_),
            buffer_.begin() + static_cast<std::ptrdiff_t>(filled_), buffer_.begin());
  filled_ -= parsed_;
  parsed_ = 0;
  if (buffer_.size() < filled_ + chunk) buffer_.resize(filled_ + chunk);
  const ssize_t n = ::recv(connection_.get(), buffer_.data() + filled_, chunk, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  if (n <= 0) {
    connection_.reset();
    filled_ = 0;
    return -1;
  }
  filled_ += static_cast<std::size_t>(n);
  int count = 0;
  while (filled_ - parsed_ >= prefix) {
    std::size_t length = 0;
    for (std::size_t i = 0; i < prefix; ++i)
      length |= static_cast<std::size_t>(buffer_[parsed_ + i]) << (8 * i);
    if (filled_ - parsed_ < prefix + length) break;
    out.emplace_back(buffer_.data() + parsed_ + prefix, length);
    parsed_ += prefix + length;
    ++count;
  }
  return count;
}

bool MidiOutlet::readable(std::chrono::milliseconds wait) {
  if (taken_ < taking_.size()) return true;
  pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {connection_.get(), POLLIN, 0}};
  if (::poll(fds, 2, static_cast<int>(wait.count())) <= 0) return false;
  if (fds[0].revents & POLLIN) accept();
  return (fds[1].revents & POLLIN) != 0;
}

bool MidiOutlet::take(std::vector<std::uint8_t>& message) {
  if (taken_ == taking_.size()) {
    taking_.clear(); // before receive() moves the buffer they point into
    taken_ = 0;
    if (receive(taking_) <= 0) return false;
  }
  message.assign(taking_[taken_].begin(), taking_[taken_].end());
  ++taken_;
  return true;
}

} // namespace meshbench
