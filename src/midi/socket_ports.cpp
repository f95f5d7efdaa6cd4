// MidiPorts over Unix sockets, for tests and benchmarks (socket_ports.hpp).
//
// Plain sockets rather than ZeroMQ: a message goes from the writer's send() straight to this
// node's recv(), and from this node's send() straight to the reader, with no I/O thread to wake
// at either end. A benchmark then measures the node, not its test harness.
//
// Input is SOCK_SEQPACKET, one message per packet: writers need no framing, and between two
// connected sockets the kernel bounds the queue by the sender's buffer, not by the tiny queue
// length (net.unix.max_dgram_qlen) of unconnected datagram sockets. input_fd() is an epoll fd
// over the listening socket and every accepted writer: level-triggered, so it stays readable
// while messages wait, and take_input() may stop after a bounded batch.
//
// Output is a byte stream of length-prefixed messages, written once per turn of the node's loop
// (flush()): a flood then costs one write() per batch, not a packet per message, as a MIDI
// driver's queue would.

#include "midi/socket_ports.hpp"

#include "wire/envelope.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <utility>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#endif

namespace midimesh::midi {
namespace {

// As RtMidi's input queue: the most messages one take_input() hands over.
constexpr int input_batch = 4096;
// Played bytes a slow reader may leave unread before send() refuses more.
constexpr std::size_t output_backlog = 8 * 1024 * 1024;
constexpr std::size_t length_prefix = 4; // little-endian
constexpr int max_writers = 64;

#ifdef __linux__
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

private:
  int fd_ = -1;
};

[[noreturn]] void fail(const std::string& what) {
  throw MidiError("socket backend: " + what + ": " + std::strerror(errno));
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    throw MidiError("socket backend: path too long for a Unix socket: " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

Fd unix_socket(int type) {
  Fd fd(::socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) fail("socket");
  return fd;
}

class SocketPorts final : public MidiPorts {
public:
  explicit SocketPorts(const MidiConfig& config)
      : in_path_(config.port_name + "-in"), out_path_(config.port_name + "-out"),
        out_address_(address_of(out_path_)), listener_(unix_socket(SOCK_SEQPACKET)),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)), buffer_(wire::max_midi_size + 1) {
    if (epoll_.get() < 0) fail("epoll_create1");
    const sockaddr_un in_address = address_of(in_path_);
    ::unlink(in_path_.c_str()); // a socket file left by an earlier run that crashed
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&in_address),
               sizeof in_address) != 0)
      fail("cannot bind " + in_path_);
    if (::listen(listener_.get(), max_writers) != 0) fail("listen on " + in_path_);
    watch(listener_.get());
    description_ = "socket (testing only): input " + in_path_ +
                   " (this node listens; a message per packet), output " + out_path_ +
                   " (the reader listens; a stream of 4-byte little-endian lengths and messages), "
                   "messages up to " +
                   std::to_string(max_message_size()) + " bytes";
  }

  ~SocketPorts() override { ::unlink(in_path_.c_str()); }

  int input_fd() const override { return epoll_.get(); }

  void take_input(std::vector<std::vector<std::uint8_t>>& out) override {
    epoll_event events[max_writers + 1];
    const int ready = ::epoll_wait(epoll_.get(), events, max_writers + 1, 0);
    int budget = input_batch;
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener_.get())
        accept_writers();
      else
        budget -= read_writer(fd, budget, out);
    }
  }

  SendResult send(std::span<const std::uint8_t> message) override {
    if (message.size() > max_message_size()) return SendResult::too_large;
    if (message.empty()) return SendResult::failed;
    // No reader listening yet (or it went away): refused, and tried again at the next message.
    if (output_.get() < 0 && !connect_output()) return SendResult::failed;
    if (pending_.size() - written_ + length_prefix + message.size() > output_backlog)
      return SendResult::failed; // the reader fell behind: refused, as by a full driver queue
    for (std::size_t i = 0; i < length_prefix; ++i)
      pending_.push_back(static_cast<std::uint8_t>(message.size() >> (8 * i)));
    pending_.insert(pending_.end(), message.begin(), message.end());
    return SendResult::sent;
  }

  std::size_t flush() override {
    if (written_ == pending_.size()) return 0;
    const ssize_t n = ::send(output_.get(), pending_.data() + written_, pending_.size() - written_,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0; // the next turn goes on
    if (n < 0) { // the reader left: what it did not get whole is lost
      const std::size_t lost = messages_after(written_);
      output_.reset();
      pending_.clear();
      written_ = 0;
      return lost;
    }
    written_ += static_cast<std::size_t>(n);
    if (written_ == pending_.size()) {
      pending_.clear();
      written_ = 0;
    } else if (written_ > output_backlog) { // a reader always a little behind: reclaim memory
      const std::size_t boundary = boundary_before(written_);
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(boundary));
      written_ -= boundary;
    }
    return 0;
  }

  std::size_t max_message_size() const override { return wire::max_midi_size; }

  InputStats input_stats() const override {
    InputStats stats;
    stats.received = received_;
    stats.backend_errors = errors_;
    return stats;
  }

  std::string describe() const override { return description_; }

private:
  void watch(int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) fail("epoll_ctl");
  }

  void accept_writers() {
    while (writers_.size() < max_writers) {
      Fd writer(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (writer.get() < 0) return;
      watch(writer.get());
      writers_.push_back(std::move(writer));
    }
  }

  // Reads up to `budget` messages from one writer; returns how many it took.
  int read_writer(int fd, int budget, std::vector<std::vector<std::uint8_t>>& out) {
    int taken = 0;
    while (taken < budget) {
      const ssize_t size = ::recv(fd, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (size <= 0) { // the writer closed (0) or failed: forget it
        drop_writer(fd);
        break;
      }
      ++taken;
      if (static_cast<std::size_t>(size) > max_message_size()) {
        ++errors_; // truncated: larger than any MIDI message this backend takes
        continue;
      }
      ++received_;
      out.emplace_back(buffer_.begin(), buffer_.begin() + size);
    }
    return taken;
  }

  void drop_writer(int fd) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    std::erase_if(writers_, [fd](const Fd& w) { return w.get() == fd; });
  }

  // pending_ starts at a message boundary. How many messages end after `offset`:
  std::size_t messages_after(std::size_t offset) const {
    std::size_t count = 0;
    for (std::size_t at = 0; at < pending_.size(); at += length_prefix + length_at(at))
      count += at + length_prefix + length_at(at) > offset;
    return count;
  }
  // The start of the first message that ends after `offset`.
  std::size_t boundary_before(std::size_t offset) const {
    std::size_t at = 0;
    while (at + length_prefix + length_at(at) <= offset)
      at += length_prefix + length_at(at);
    return at;
  }
  std::size_t length_at(std::size_t at) const {
    std::size_t length = 0;
    for (std::size_t i = 0; i < length_prefix; ++i)
      length |= static_cast<std::size_t>(pending_[at + i]) << (8 * i);
    return length;
  }

  bool connect_output() {
    Fd fd = unix_socket(SOCK_STREAM);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&out_address_),
                  sizeof out_address_) != 0)
      return false;
    output_ = std::move(fd);
    return true;
  }

  std::string in_path_, out_path_;
  sockaddr_un out_address_;
  Fd listener_, epoll_, output_;
  std::vector<std::uint8_t> pending_; // played, from a message boundary; sent up to written_
  std::size_t written_ = 0;
  std::vector<Fd> writers_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t received_ = 0, errors_ = 0;
  std::string description_;
};
#endif

} // namespace

std::unique_ptr<MidiPorts> open_socket_ports(const MidiConfig& config) {
#ifdef __linux__
  return std::make_unique<SocketPorts>(config);
#else
  (void)config;
  throw MidiError("the socket MIDI backend (for tests and benchmarks) needs Linux");
#endif
}

} // namespace midimesh::midi
