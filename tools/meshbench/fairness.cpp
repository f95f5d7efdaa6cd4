#include "fairness.hpp"

#include "bench_mesh.hpp"
#include "client_id.hpp"
#include "hub_process.hpp"
#include "limits.hpp"
#include "proc_stats.hpp"
#include "wire/envelope.hpp"
#include "wire/transport.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <fmt/format.h>
#include <fstream>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace meshbench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t honest = 2; // client indices 0 and 1
constexpr std::size_t sysex_flooder = 2, note_flooder = 3;
constexpr std::uint8_t flood_note[] = {0x91, 60, 100}; // not measured: only counted
// Ids the benchmark's clients do not use: the non-readers receive everything else.
const std::string non_reader_id = "ffffffffffffff00", raw_reader_id = "ffffffffffffff01";

// A TCP connection that speaks just enough ZMTP 3.1 to subscribe (NULL mechanism, READY as a
// SUB, then, once the hub's READY is in, an inverted-match subscription like a node's), then
// never reads: the kernel buffers what the hub sends until the window shuts.
class RawSubscriber {
public:
  explicit RawSubscriber(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw BenchError("cannot create a TCP socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      throw BenchError(fmt::format("cannot connect a raw subscriber to port {}", port));
    }
    std::string greeting(64, '\0');
    greeting[0] = '\xff';
    greeting[8] = 1;
    greeting[9] = '\x7f';
    greeting[10] = 3; // version 3.1
    greeting[11] = 1;
    greeting.replace(12, 4, "NULL");
    const std::string ready =
        std::string("\x05READY\x0bSocket-Type") + std::string("\0\0\0\x03", 4) + "SUB";
    send_all(greeting + '\x04' + static_cast<char>(ready.size()) + ready);
    // The hub's greeting and READY (a short command: flags, size, body): a command sent
    // before they are in is refused as unexpected.
    std::string in;
    while (in.size() < 66 || in.size() < 66u + static_cast<std::uint8_t>(in[65])) {
      char chunk[256];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) throw BenchError("the hub closed the raw subscriber's handshake");
      in.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string subscribe = "\x09SUBSCRIBE" + raw_reader_id;
    send_all(std::string("\x04") + static_cast<char>(subscribe.size()) + subscribe);
  }
  ~RawSubscriber() { ::close(fd_); }
  RawSubscriber(const RawSubscriber&) = delete;
  RawSubscriber& operator=(const RawSubscriber&) = delete;

private:
  void send_all(const std::string& bytes) {
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
      throw BenchError("cannot send the raw subscriber's handshake");
  }
  int fd_;
};

// Runs `body(i)` for i in [0, count) at start + i * period, until `stop` or the count is done.
template <typename Body>
void paced(std::uint64_t count, Clock::duration period, const std::atomic<bool>& stop, Body body) {
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < count && !stop.load(std::memory_order_relaxed); ++i) {
    std::this_thread::sleep_until(start + period * static_cast<Clock::rep>(i));
    body(i);
  }
}

// The floods stand for other computers: here they share the cores with the honest clients, so
// their threads take only what CPU time is spare, and the table reports what they did offer.
void lowest_priority() noexcept {
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
}

Clock::duration period_of(double hz) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / hz));
}

std::string last_stats_line(const std::string& log_path) {
  std::ifstream log(log_path);
  std::string line, last;
  while (std::getline(log, line))
    if (line.find("stats: forwarded=") != std::string::npos) last = line;
  const auto at = last.find("forwarded=");
  return at == std::string::npos ? "" : last.substr(at);
}

} // namespace

FairnessResult run_fairness(const FairnessPlan& plan) {
  zmq::context_t context(2);
  // The floods leave from their own I/O threads, as from other computers: in one context they
  // would hold up the honest senders' messages in this process, before the hub.
  zmq::context_t flood_context(1);
  const std::uint16_t port = find_free_hub_ports();
  FairnessResult result;
  {
    HubProcess hub(plan.midimesh, port, plan.hub_log);
    Topology via_hub{"hub", fmt::format("tcp://127.0.0.1:{}", port),
                     fmt::format("tcp://127.0.0.1:{}", port + 1), [&hub] { return hub.running(); }};
    // Connected first, so they are attached by the time the honest receivers have heard.
    zmq::socket_t sub(context, zmq::socket_type::sub); // no heartbeats: it answers nothing
    sub.set(zmq::sockopt::invert_matching, 1);
    sub.set(zmq::sockopt::subscribe, non_reader_id);
    sub.set(zmq::sockopt::linger, 0);
    sub.connect(via_hub.subscribe_endpoint);
    const auto honest_total = static_cast<std::uint64_t>(plan.rate_hz * plan.seconds) * honest;
    const auto deadline = Clock::now() + probe_limit +
                          std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(plan.seconds * 1.5 + 1.0));
    MeshShape shape{honest, 2, false, honest_total, 2};
    // The hub needs a moment to bind: the raw client connects once the mesh has probed.
    BenchMesh mesh(context, via_hub, shape, deadline + drain_limit);
    // The dump is encoded once and sent over and over without a copy (ZeroMQ shares one
    // content): a flooder need not number its messages, and the benchmark's own cost of the
    // flood stays the kernel's copy, not three of ours per dump.
    const std::string sysex_id = client_id(mesh.nonce(), sysex_flooder);
    midimesh::wire::Envelope envelope;
    envelope.type = static_cast<std::uint8_t>(midimesh::wire::MessageType::midi);
    envelope.sender = sysex_id;
    envelope.payload.assign(plan.sysex_bytes, 0x55);
    envelope.payload.front() = 0xF0;
    envelope.payload.back() = 0xF7;
    const std::vector<std::uint8_t> encoded = midimesh::wire::encode(envelope);
    zmq::message_t dump(encoded.begin(), encoded.end());
    zmq::socket_t sysex_socket(flood_context, zmq::socket_type::pub);
    midimesh::wire::apply_common_options(sysex_socket);
    sysex_socket.set(zmq::sockopt::sndhwm, 1000);
    sysex_socket.set(zmq::sockopt::linger, 0);
    sysex_socket.connect(via_hub.publish_endpoint);
    Publisher note_publisher(flood_context, client_id(mesh.nonce(), note_flooder));
    note_publisher.connect(via_hub.publish_endpoint);
    mesh.probe(probe_limit);
    RawSubscriber raw(static_cast<std::uint16_t>(port + 1));

    std::atomic<bool> stop{false};
    const auto sysex_count = static_cast<std::uint64_t>(plan.sysex_rate_hz * plan.seconds);
    const double sysex_hz = std::max(plan.sysex_rate_hz, 1.0);
    // Note-ons in batches of one millisecond's worth: a sleep per message would not keep up.
    const auto batch = static_cast<std::uint64_t>(plan.note_flood_rate_hz / 1000);
    const auto note_batches = batch ? static_cast<std::uint64_t>(plan.seconds * 1000) : 0;
    std::atomic<std::uint64_t> sysex_sent{0}, notes_sent{0};
    // Each flooder's socket is used by its thread alone from here on.
    std::thread sysex_thread([&] {
      lowest_priority();
      paced(sysex_count, period_of(sysex_hz), stop, [&](std::uint64_t) {
        zmq::message_t copy;
        copy.copy(dump);
        (void)sysex_socket.send(zmq::buffer(sysex_id), zmq::send_flags::sndmore);
        (void)sysex_socket.send(copy, zmq::send_flags::dontwait);
        sysex_sent.fetch_add(1, std::memory_order_relaxed);
      });
    });
    std::thread note_thread([&] {
      lowest_priority();
      paced(note_batches, std::chrono::milliseconds(1), stop, [&](std::uint64_t) {
        for (std::uint64_t i = 0; i < batch; ++i)
          note_publisher.publish(flood_note, wall_us());
        notes_sent.fetch_add(batch, std::memory_order_relaxed);
      });
    });
    try {
      // The honest senders take turns, each at rate_hz, on a fixed schedule.
      std::atomic<bool> never{false};
      paced(honest_total, period_of(plan.rate_hz * honest), never, [&](std::uint64_t i) {
        mesh.publisher(i % honest).publish(measured_note_on, wall_us());
        if (i % 256 == 0 && !hub.running())
          throw BenchError("the hub process exited during the run");
        if (Clock::now() > deadline) throw BenchError("the honest streams overran the deadline");
      });
    } catch (...) {
      stop = true;
      sysex_thread.join();
      note_thread.join();
      throw;
    }
    result.sent = honest_total;
    stop = true;
    sysex_thread.join();
    note_thread.join();
    result.sysex_offered = sysex_sent;
    result.notes_offered = notes_sent;
    result.expected = honest_total * shape.receivers;

    // Until every honest message arrived, or nothing more did for a second.
    const auto give_up = Clock::now() + drain_limit;
    std::uint64_t seen = mesh.measured_total();
    auto last_progress = Clock::now();
    while (mesh.measured_total() < result.expected && Clock::now() < give_up &&
           Clock::now() - last_progress < quiet_limit) {
      if (!hub.running()) throw BenchError("the hub process exited during the run");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (mesh.measured_total() != seen) last_progress = Clock::now();
      seen = mesh.measured_total();
    }
    result.hub_peak_rss_kib = read_proc(hub.pid()).peak_rss_kib;
    mesh.stop_and_join();
    if (mesh.receiver_failed()) throw BenchError("a receiver thread failed");
    std::vector<std::int64_t> samples;
    for (const auto& receiver : mesh.receivers()) {
      result.delivered += receiver->measured_total();
      result.gaps += receiver->gaps();
      const auto& l = receiver->latencies_us();
      samples.insert(samples.end(), l.begin(), l.end());
      result.sysex_delivered += static_cast<double>(receiver->others_from(sysex_flooder));
      result.notes_delivered += static_cast<double>(receiver->others_from(note_flooder));
    }
    result.sysex_delivered /= static_cast<double>(shape.receivers);
    result.notes_delivered /= static_cast<double>(shape.receivers);
    result.latency = summarize(std::move(samples));
    result.hub_exit = hub.stop(); // it logs its counters as it ends
  }
  result.hub_stats = last_stats_line(plan.hub_log);
  return result;
}

} // namespace meshbench
