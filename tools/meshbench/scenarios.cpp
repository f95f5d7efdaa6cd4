#include "scenarios.hpp"

#include "limits.hpp"

#include <algorithm>
#include <thread>

namespace meshbench {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `done` says every message has arrived, or no receiver made progress for
// quiet_limit, or `deadline`. Each turn is one 5 ms sleep: bounded by the deadline.
template <typename Done>
void wait_for_arrivals(BenchMesh& mesh, Clock::time_point deadline, const Topology& topology,
                       Done done) {
  deadline = std::min(deadline, Clock::now() + drain_limit);
  std::uint64_t seen = mesh.measured_total();
  auto last_progress = Clock::now();
  while (!done() && Clock::now() < deadline && Clock::now() - last_progress < quiet_limit) {
    if (!topology.alive()) throw BenchError("the hub process exited during the run");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::uint64_t now_seen = mesh.measured_total();
    if (now_seen != seen) last_progress = Clock::now();
    seen = now_seen;
  }
}

double seconds_between(std::uint64_t from_us, std::uint64_t to_us) {
  return to_us > from_us ? static_cast<double>(to_us - from_us) / 1e6 : 0.0;
}

} // namespace

ThroughputResult run_throughput(zmq::context_t& context, const Topology& topology,
                                const ThroughputPlan& plan) {
  const auto deadline = Clock::now() + plan.time_limit;
  BenchMesh mesh(context, topology, plan.shape, deadline + drain_limit);
  mesh.probe(probe_limit);

  const std::size_t senders = mesh.senders();
  std::vector<std::uint64_t> sent(senders, 0);
  const std::uint64_t window = plan.window ? std::max<std::uint64_t>(1, plan.window / senders) : 0;
  const std::uint64_t start_us = steady_us();
  // Round robin over the senders, at most one batch each per turn, so that in the all-to-all
  // case they really send at once. Each turn either sends or sleeps: bounded by the deadline.
  bool remaining = true;
  while (remaining && Clock::now() < deadline) {
    remaining = false;
    bool progress = false;
    for (std::size_t s = 0; s < senders; ++s) {
      std::uint64_t n = std::min(plan.batch, plan.messages_per_sender - sent[s]);
      if (n == 0) continue;
      remaining = true;
      if (window) {
        const std::uint64_t in_flight = sent[s] - mesh.slowest_measured_from(s);
        n = in_flight >= window ? 0 : std::min(n, window - in_flight);
      }
      Publisher& publisher = mesh.publisher(s);
      for (std::uint64_t i = 0; i < n; ++i)
        publisher.publish(measured_note_on,
                          wall_us()); // a PUB drops, never refuses: count at receivers
      sent[s] += n;
      progress = progress || n > 0;
    }
    if (remaining && !progress) std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (!topology.alive()) throw BenchError("the hub process exited during the run");
  }
  const std::uint64_t send_end_us = steady_us();

  ThroughputResult result;
  result.label = plan.label;
  result.topology = topology.name;
  result.senders = senders;
  result.receivers = mesh.receivers().size();
  result.timed_out = remaining;
  for (std::size_t r = 0; r < result.receivers; ++r)
    for (std::size_t s = 0; s < senders; ++s)
      if (mesh.hears(r, s)) result.expected += sent[s];
  wait_for_arrivals(mesh, deadline + drain_limit, topology,
                    [&] { return mesh.measured_total() >= result.expected; });
  mesh.stop_and_join();

  std::uint64_t last_us = start_us;
  for (const auto& receiver : mesh.receivers()) {
    const std::uint64_t got = receiver->measured_total();
    result.delivered += got;
    result.gaps += receiver->gaps();
    last_us = std::max(last_us, receiver->last_measured_us());
    const double s = seconds_between(start_us, receiver->last_measured_us());
    result.receiver_per_s.push_back(s > 0 ? static_cast<double>(got) / s : 0.0);
  }
  for (auto n : sent)
    result.sent += n;
  result.drops = result.expected - std::min(result.expected, result.delivered);
  result.send_seconds = seconds_between(start_us, send_end_us);
  result.seconds = seconds_between(start_us, last_us);
  result.delivered_per_s =
      result.seconds > 0 ? static_cast<double>(result.delivered) / result.seconds : 0.0;
  if (mesh.receiver_failed()) throw BenchError("a receiver thread failed");
  return result;
}

LatencyResult run_latency(zmq::context_t& context, const Topology& topology,
                          const LatencyPlan& plan) {
  const std::size_t senders = std::max<std::size_t>(1, plan.senders);
  const auto total = static_cast<std::uint64_t>(plan.rate_hz * plan.seconds) * senders;
  // The senders take turns: together they send senders x rate_hz, evenly spaced.
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / plan.rate_hz / static_cast<double>(senders)));
  const auto deadline = Clock::now() + probe_limit +
                        std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(plan.seconds * 1.5 + 1.0));
  MeshShape shape;
  shape.senders = senders;
  shape.receivers = plan.receivers;
  shape.senders_receive = senders > 1;
  shape.latency_capacity = total;
  BenchMesh mesh(context, topology, shape, deadline + drain_limit);
  mesh.probe(probe_limit);

  // A fixed schedule (start + i * period) so that a late wake-up does not slow the rate; the
  // envelope's time is read just before sending, so the sleep's jitter is not in the latency.
  const auto start = Clock::now();
  std::uint64_t sent = 0;
  for (; sent < total && Clock::now() < deadline; ++sent) {
    std::this_thread::sleep_until(start + period * static_cast<Clock::rep>(sent));
    mesh.publisher(sent % senders).publish(measured_note_on, wall_us());
    if (sent % 256 == 0 && !topology.alive())
      throw BenchError("the hub process exited during the run");
  }
  const double send_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  LatencyResult result;
  result.label = plan.label;
  result.topology = topology.name;
  result.receivers = plan.receivers;
  result.sent = sent;
  result.senders = senders;
  // All-to-all, nobody hears itself.
  result.expected = sent * (senders > 1 ? plan.receivers - 1 : plan.receivers);
  wait_for_arrivals(mesh, deadline + drain_limit, topology,
                    [&] { return mesh.measured_total() >= result.expected; });
  mesh.stop_and_join();

  std::vector<std::int64_t> samples;
  samples.reserve(result.expected);
  for (const auto& receiver : mesh.receivers()) {
    result.delivered += receiver->measured_total();
    result.gaps += receiver->gaps();
    const auto& l = receiver->latencies_us();
    samples.insert(samples.end(), l.begin(), l.end());
  }
  result.drops = result.expected - std::min(result.expected, result.delivered);
  result.achieved_rate_hz =
      send_seconds > 0 ? static_cast<double>(sent) / send_seconds / static_cast<double>(senders)
                       : 0.0;
  result.latency = summarize(std::move(samples));
  if (mesh.receiver_failed()) throw BenchError("a receiver thread failed");
  return result;
}

} // namespace meshbench
