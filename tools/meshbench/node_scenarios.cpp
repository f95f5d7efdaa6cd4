#include "node_scenarios.hpp"

#include "bench_mesh.hpp"
#include "limits.hpp"
#include "proc_stats.hpp"
#include "receiver.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace meshbench {
namespace {

using Clock = std::chrono::steady_clock;

// Until every expected message has been played out, or none came for quiet_limit, or
// drain_limit passed.
void wait_for_arrivals(NodeFleet& fleet, std::uint64_t expected) {
  const auto deadline = Clock::now() + drain_limit;
  std::uint64_t seen = fleet.heard_total();
  auto last_progress = Clock::now();
  while (seen < expected && Clock::now() < deadline && Clock::now() - last_progress < quiet_limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::uint64_t now_seen = fleet.heard_total();
    if (now_seen != seen) last_progress = Clock::now();
    seen = now_seen;
  }
}

// Waits for every other node to play what the first `senders` nodes played (bounded), then
// stops measuring and counts.
Deliveries count_deliveries(NodeFleet& fleet, std::size_t senders) {
  Deliveries d;
  for (std::size_t s = 0; s < senders; ++s)
    d.sent += fleet.played(s);
  d.expected = d.sent * (fleet.size() - 1);
  wait_for_arrivals(fleet, d.expected);
  fleet.stop_measuring();
  d.delivered = fleet.heard_total();
  d.drops = d.expected - std::min(d.expected, d.delivered);
  return d;
}

void check(NodeFleet& fleet) {
  if (!fleet.all_running()) throw BenchError("a node process exited during the run");
  if (fleet.listener_failed()) throw BenchError("the listening thread failed");
}

class Fd {
public:
  explicit Fd(int fd) : fd_(fd) {
    if (fd_ < 0) throw BenchError(fmt::format("socket: {}", std::strerror(errno)));
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }

private:
  int fd_;
};

void tune(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{1, 0}; // no blocking call waits longer than a second
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

bool transfer(int fd, std::uint8_t* data, std::size_t size, bool receiving) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = receiving ? ::recv(fd, data + done, size - done, 0)
                                : ::send(fd, data + done, size - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

} // namespace

NodeLatencyResult run_node_latency(NodeFleet& fleet, const std::string& label, std::size_t senders,
                                   double rate_hz, double seconds) {
  const std::size_t n = fleet.size();
  const auto per_sender = static_cast<std::uint64_t>(rate_hz * seconds);
  const std::uint64_t total = per_sender * senders;
  fleet.start_measuring(total * (n - 1));
  // One fixed schedule for all senders, staggered evenly: a late wake-up does not lower the rate.
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / (rate_hz * static_cast<double>(senders))));
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds * 1.5 + 1.0));
  for (std::uint64_t k = 0; k < total && Clock::now() < deadline; ++k) {
    std::this_thread::sleep_until(start + period * static_cast<Clock::rep>(k));
    // A refused play is not counted in played(), so it is not expected either.
    (void)fleet.play(k % senders);
    if (k % 512 == 0) check(fleet);
  }
  const double send_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  NodeLatencyResult r;
  r.label = label;
  r.nodes = n;
  r.senders = senders;
  static_cast<Deliveries&>(r) = count_deliveries(fleet, senders);
  r.rate_hz = send_seconds > 0 ? static_cast<double>(r.sent) / send_seconds / senders : 0;
  r.latency = summarize(fleet.latencies_us());
  return r;
}

NodeThroughputResult run_node_throughput(NodeFleet& fleet, pid_t hub, const std::string& label,
                                         std::size_t senders, std::uint64_t messages,
                                         std::uint64_t window, std::chrono::milliseconds limit) {
  const std::size_t n = fleet.size();
  fleet.start_measuring(0);
  const std::uint64_t per_sender_window = std::max<std::uint64_t>(1, window / senders);
  constexpr std::uint64_t batch = 500;
  const ProcReading hub0 = read_proc(hub), sender0 = read_proc(fleet.pid(0)),
                    receiver0 = read_proc(fleet.pid(n - 1));
  const std::uint64_t start_us = steady_us();
  const auto deadline = Clock::now() + limit;
  bool remaining = true;
  while (remaining && Clock::now() < deadline) {
    remaining = false;
    bool progress = false;
    for (std::size_t s = 0; s < senders; ++s) {
      const std::uint64_t sent = fleet.played(s);
      if (sent >= messages) continue;
      remaining = true;
      const std::uint64_t in_flight = sent - std::min(sent, fleet.slowest_from(s));
      if (in_flight >= per_sender_window) continue;
      const std::uint64_t room = std::min({batch, messages - sent, per_sender_window - in_flight});
      for (std::uint64_t i = 0; i < room && fleet.play(s); ++i)
        progress = true;
    }
    if (remaining && !progress) std::this_thread::sleep_for(std::chrono::microseconds(50));
    check(fleet);
  }
  NodeThroughputResult r;
  r.label = label;
  r.nodes = n;
  r.senders = senders;
  r.receivers = n - 1; // every node but the sender hears each sender
  r.timed_out = remaining;
  static_cast<Deliveries&>(r) = count_deliveries(fleet, senders);
  const ProcReading hub1 = read_proc(hub), sender1 = read_proc(fleet.pid(0)),
                    receiver1 = read_proc(fleet.pid(n - 1));
  const std::uint64_t last = fleet.last_arrival_us();
  r.seconds = last > start_us ? static_cast<double>(last - start_us) / 1e6 : 0;
  r.delivered_per_s = r.seconds > 0 ? static_cast<double>(r.delivered) / r.seconds : 0;
  std::uint64_t receiver_played = 0;
  for (std::size_t s = 0; s < n - 1; ++s)
    receiver_played += fleet.heard(n - 1, s);
  auto per_1000 = [](double cpu_s, std::uint64_t count) {
    return count ? cpu_s * 1e3 * 1000.0 / static_cast<double>(count) : 0.0;
  };
  r.hub_ms_per_1000 = per_1000(hub1.cpu() - hub0.cpu(), r.sent);
  r.sender_ms_per_1000 = per_1000(sender1.cpu() - sender0.cpu(), fleet.played(0));
  r.receiver_ms_per_1000 = per_1000(receiver1.cpu() - receiver0.cpu(), receiver_played);
  return r;
}

IdleResult measure_idle(NodeFleet& fleet, pid_t hub, double seconds) {
  std::vector<ProcReading> before;
  for (std::size_t i = 0; i < fleet.size(); ++i)
    before.push_back(read_proc(fleet.pid(i)));
  const ProcReading hub0 = read_proc(hub);
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  IdleResult r;
  r.nodes = fleet.size();
  r.seconds = elapsed;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    const ProcReading after = read_proc(fleet.pid(i));
    r.node_cpu_percent =
        std::max(r.node_cpu_percent, 100.0 * (after.cpu() - before[i].cpu()) / elapsed);
    r.node_wakeups_per_s = std::max(r.node_wakeups_per_s,
                                    static_cast<double>(after.sleeps - before[i].sleeps) / elapsed);
    r.node_main_wakeups_per_s = std::max(
        r.node_main_wakeups_per_s,
        static_cast<double>(after.main_thread_sleeps - before[i].main_thread_sleeps) / elapsed);
  }
  r.hub_cpu_percent = 100.0 * (read_proc(hub).cpu() - hub0.cpu()) / elapsed;
  check(fleet);
  return r;
}

LatencySummary run_tcp_echo(double rate_hz, double seconds) {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::listen(listener.get(), 1) != 0)
    throw BenchError(fmt::format("tcp echo: cannot listen: {}", std::strerror(errno)));
  constexpr std::size_t size = 19; // as the SysEx the nodes carry
  std::thread echo([fd = listener.get()] {
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout); // accept waits <= 2 s
    const int peer = ::accept(fd, nullptr, nullptr);
    if (peer < 0) return;
    tune(peer);
    std::uint8_t buffer[size];
    while (transfer(peer, buffer, size, true) && transfer(peer, buffer, size, false)) {
    }
    ::close(peer);
  });
  std::vector<std::int64_t> samples;
  {
    Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    tune(client.get());
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      const auto total = static_cast<std::uint64_t>(rate_hz * seconds);
      const auto period =
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate_hz));
      samples.reserve(total);
      std::uint8_t buffer[size] = {};
      const auto start = Clock::now();
      for (std::uint64_t i = 0; i < total; ++i) {
        std::this_thread::sleep_until(start + period * static_cast<Clock::rep>(i));
        const std::uint64_t t0 = steady_us();
        if (!transfer(client.get(), buffer, size, false) ||
            !transfer(client.get(), buffer, size, true))
          break;
        samples.push_back(static_cast<std::int64_t>(steady_us() - t0));
      }
    }
  } // closing the client ends the echo thread's loop
  echo.join();
  return summarize(std::move(samples));
}

} // namespace meshbench
