#pragma once
// The two measurements, each run on a fresh set of clients over a given topology (through the
// hub, or direct PUB to SUB as the baseline). The calling thread is the sending thread.

#include "bench_mesh.hpp"
#include "percentiles.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace meshbench {

struct ThroughputPlan {
  std::string label;
  MeshShape shape;
  std::uint64_t messages_per_sender = 1'000'000;
  // Most messages a receiver may have in flight towards it (sent but not yet received), shared
  // equally by its senders: keeps each sender under its own PUB HWM and each receiver's queue
  // at the hub under the hub's per-receiver HWM (50,000, for all senders together), so what is
  // measured is what the mesh carries, not what a full queue throws away. 0: unpaced.
  std::uint64_t window = 20'000;
  std::uint64_t batch = 500; // messages per sender per turn of the send loop
  std::chrono::milliseconds time_limit{60'000};
};

struct ThroughputResult {
  std::string label, topology;
  std::size_t senders = 0, receivers = 0;
  std::uint64_t sent = 0, expected = 0, delivered = 0, drops = 0, gaps = 0;
  double send_seconds = 0, seconds = 0; // until the last send; until the last arrival
  double delivered_per_s = 0;           // sum over receivers
  std::vector<double> receiver_per_s;
  bool timed_out = false;
};

struct LatencyPlan {
  std::string label;
  // More than one: all-to-all, every receiver also sends at rate_hz, the senders in turn.
  std::size_t senders = 1;
  std::size_t receivers = 8;
  double rate_hz = 1000;
  double seconds = 10;
};

struct LatencyResult {
  std::string label, topology;
  std::size_t senders = 1, receivers = 0;
  std::uint64_t sent = 0, expected = 0, delivered = 0, drops = 0, gaps = 0;
  double achieved_rate_hz = 0;
  LatencySummary latency; // over every receiver's samples
};

// Both throw BenchError when the scenario cannot run (receivers never hear the sender, the hub
// died); a scenario that runs but loses messages returns and reports them.
ThroughputResult run_throughput(zmq::context_t& context, const Topology& topology,
                                const ThroughputPlan& plan);
LatencyResult run_latency(zmq::context_t& context, const Topology& topology,
                          const LatencyPlan& plan);

} // namespace meshbench
