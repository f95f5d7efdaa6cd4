#pragma once
// Measurements through real node processes (node_fleet.hpp), and a plain TCP echo on loopback
// as the floor any networked MIDI path stands on. The calling thread plays; every loop is
// bounded by a deadline.

#include "node_fleet.hpp"
#include "percentiles.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace meshbench {

// What the sending nodes played, and what every other node played out of it.
struct Deliveries {
  std::uint64_t sent = 0, expected = 0, delivered = 0, drops = 0;
};

struct NodeLatencyResult : Deliveries {
  std::string label;
  std::size_t nodes = 0, senders = 0;
  double rate_hz = 0; // per sender, achieved
  LatencySummary latency;
};

struct NodeThroughputResult : Deliveries {
  std::string label;
  std::size_t nodes = 0, senders = 0, receivers = 0;
  double seconds = 0, delivered_per_s = 0;
  // CPU milliseconds per 1,000 messages: the hub per message played in, a sending node per
  // message it sent, a receiving node per message it played out.
  double hub_ms_per_1000 = 0, sender_ms_per_1000 = 0, receiver_ms_per_1000 = 0;
  bool timed_out = false;
};

struct IdleResult {
  std::size_t nodes = 0;
  double seconds = 0;
  double node_cpu_percent = 0; // the busiest node of the fleet
  double hub_cpu_percent = 0;
  // Wake-ups per second of the node that woke most: all its threads, and its main thread.
  double node_wakeups_per_s = 0, node_main_wakeups_per_s = 0;
};

// Senders 0..senders-1 each play `rate_hz` for `seconds`, spread evenly in time.
NodeLatencyResult run_node_latency(NodeFleet& fleet, const std::string& label, std::size_t senders,
                                   double rate_hz, double seconds);
// Senders 0..senders-1 play `messages` each as fast as `window` (in flight per receiver, shared
// by the senders) lets them; every other node receives. hub: the hub's pid, for its CPU.
NodeThroughputResult run_node_throughput(NodeFleet& fleet, pid_t hub, const std::string& label,
                                         std::size_t senders, std::uint64_t messages,
                                         std::uint64_t window, std::chrono::milliseconds limit);
IdleResult measure_idle(NodeFleet& fleet, pid_t hub, double seconds);

// Round trips of a small message over TCP on 127.0.0.1 (TCP_NODELAY) at `rate_hz` for
// `seconds`, against an echo thread; summary of the round-trip times.
LatencySummary run_tcp_echo(double rate_hz, double seconds);

} // namespace meshbench
