// MidiPorts over two ZeroMQ ipc sockets, for tests and benchmarks (socket_ports.hpp).
//
// The node polls input_fd() as a plain fd, level-triggered, but a ZeroMQ socket's ZMQ_FD is
// edge-triggered: once read, it stays quiet while messages still wait, until the queue has been
// emptied and refilled. take_input() takes a bounded batch so that a flood on the input cannot
// starve the node's other sockets, and may therefore leave messages behind. So input_fd() is an
// epoll fd over ZMQ_FD and an eventfd that take_input() sets while messages remain: readable
// exactly when messages wait, with no thread, no change to the MidiPorts interface or the node.

#include "midi/socket_ports.hpp"

#include "wire/envelope.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <zmq.hpp>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

namespace midimesh::midi {
namespace {

// As RtMidi's input queue: the most messages one take_input() hands over.
constexpr int input_batch = 4096;
// Played messages a slow reader may leave queued before send() reports failure.
constexpr int output_queue_depth = 100'000;

#ifdef __linux__
class Fd {
public:
  explicit Fd(int fd, const char* what) : fd_(fd) {
    if (fd_ < 0) throw MidiError(std::string(what) + " failed: " + std::strerror(errno));
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }

private:
  int fd_;
};

class SocketPorts final : public MidiPorts {
public:
  explicit SocketPorts(const MidiConfig& config)
      : context_(1), in_(context_, zmq::socket_type::pull), out_(context_, zmq::socket_type::push),
        epoll_(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"),
        more_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd") {
    const std::string in_endpoint = "ipc://" + config.port_name + "-in";
    const std::string out_endpoint = "ipc://" + config.port_name + "-out";
    try {
      for (auto* socket : {&in_, &out_})
        socket->set(zmq::sockopt::linger, 0);
      in_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(wire::max_midi_size));
      in_.set(zmq::sockopt::rcvhwm, output_queue_depth);
      out_.set(zmq::sockopt::sndhwm, output_queue_depth);
      in_.bind(in_endpoint);
      out_.bind(out_endpoint);
    } catch (const zmq::error_t& e) {
      throw MidiError("socket backend: cannot bind " + in_endpoint + " and " + out_endpoint + ": " +
                      e.what());
    }
    watch(in_.get(zmq::sockopt::fd));
    watch(more_.get());
    description_ = "socket (testing only): input " + in_endpoint + ", output " + out_endpoint +
                   ", messages up to " + std::to_string(wire::max_midi_size) + " bytes";
  }

  int input_fd() const override { return epoll_.get(); }

  void take_input(std::vector<std::vector<std::uint8_t>>& out) override {
    std::uint64_t drained = 0;
    [[maybe_unused]] auto n = ::read(more_.get(), &drained, sizeof drained);
    zmq::message_t message;
    for (int i = 0; i < input_batch; ++i) {
      if (!in_.recv(message, zmq::recv_flags::dontwait)) return; // empty: ZMQ_FD re-arms
      if (message.size() == 0) {
        ++errors_; // not a MIDI message
        continue;
      }
      ++received_;
      const auto* bytes = message.data<std::uint8_t>();
      out.emplace_back(bytes, bytes + message.size());
    }
    // Batch full: messages may remain that ZMQ_FD will not announce again.
    const std::uint64_t one = 1;
    [[maybe_unused]] auto w = ::write(more_.get(), &one, sizeof one);
  }

  SendResult send(std::span<const std::uint8_t> message) override {
    if (message.size() > max_message_size()) return SendResult::too_large;
    if (message.empty()) return SendResult::failed;
    try {
      // No reader yet, or a reader behind by output_queue_depth: refused, never blocking.
      return out_.send(zmq::buffer(message.data(), message.size()), zmq::send_flags::dontwait)
                 ? SendResult::sent
                 : SendResult::failed;
    } catch (const zmq::error_t&) {
      return SendResult::failed;
    }
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
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
      throw MidiError(std::string("socket backend: epoll_ctl failed: ") + std::strerror(errno));
  }

  zmq::context_t context_;
  zmq::socket_t in_, out_;
  Fd epoll_, more_;
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
