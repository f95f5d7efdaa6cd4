// MidiPorts over Unix sequenced-packet sockets, for tests and benchmarks (socket_ports.hpp).
//
// Plain sockets rather than ZeroMQ: a message goes from the writer's send() straight to this
// node's recv(), and from this node's send() straight to the reader, with no I/O thread to wake
// at either end. A benchmark then measures the node, not its test harness. SOCK_SEQPACKET keeps
// message boundaries, and between two connected sockets the kernel bounds the queue by the
// sender's buffer, not by the tiny datagram queue length (net.unix.max_dgram_qlen) of
// unconnected datagram sockets.
//
// input_fd() is an epoll fd over the listening socket and every accepted writer: level-triggered,
// so it stays readable while messages wait, and take_input() may stop after a bounded batch.

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
// Played messages a slow reader may leave queued: the kernel caps this at net.core.wmem_max.
constexpr int output_buffer_bytes = 8 * 1024 * 1024;
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

Fd packet_socket() {
  Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) fail("socket");
  return fd;
}

class SocketPorts final : public MidiPorts {
public:
  explicit SocketPorts(const MidiConfig& config)
      : in_path_(config.port_name + "-in"), out_path_(config.port_name + "-out"),
        out_address_(address_of(out_path_)), listener_(packet_socket()),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)), buffer_(wire::max_midi_size + 1) {
    if (epoll_.get() < 0) fail("epoll_create1");
    const sockaddr_un in_address = address_of(in_path_);
    ::unlink(in_path_.c_str()); // a socket file left by an earlier run that crashed
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&in_address),
               sizeof in_address) != 0)
      fail("cannot bind " + in_path_);
    if (::listen(listener_.get(), max_writers) != 0) fail("listen on " + in_path_);
    watch(listener_.get());
    open_output();
    description_ = "socket (testing only): input " + in_path_ + " (this node listens), output " +
                   out_path_ + " (the reader listens), messages up to " +
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
    if (!connected_ && !connect_output()) return SendResult::failed;
    if (::send(output_.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
      return SendResult::sent;
    if (errno != EAGAIN && errno != EWOULDBLOCK) open_output(); // the reader left
    return SendResult::failed;                                  // or it fell behind: not queued
  }

  std::size_t max_message_size() const override { return max_size_; }

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

  void open_output() {
    output_ = packet_socket();
    connected_ = false;
    (void)::setsockopt(output_.get(), SOL_SOCKET, SO_SNDBUF, &output_buffer_bytes,
                       sizeof output_buffer_bytes);
    int granted = 0;
    socklen_t length = sizeof granted;
    (void)::getsockopt(output_.get(), SOL_SOCKET, SO_SNDBUF, &granted, &length);
    // The kernel refuses a packet bigger than the send buffer less its overhead (EMSGSIZE).
    max_size_ = std::min<std::size_t>(wire::max_midi_size,
                                      static_cast<std::size_t>(std::max(granted, 1024)) - 1024);
  }

  bool connect_output() {
    connected_ = ::connect(output_.get(), reinterpret_cast<const sockaddr*>(&out_address_),
                           sizeof out_address_) == 0;
    return connected_;
  }

  std::string in_path_, out_path_;
  sockaddr_un out_address_;
  Fd listener_, epoll_, output_;
  bool connected_ = false;
  std::vector<Fd> writers_;
  std::vector<std::uint8_t> buffer_;
  std::size_t max_size_ = 0;
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
