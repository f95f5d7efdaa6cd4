#pragma once
// What a run found, as a table for people and JSON for scripts. Pure formatting: no sockets.

#include "fairness.hpp"
#include "jack_scenarios.hpp"
#include "mesh_trials.hpp"
#include "node_scenarios.hpp"
#include "rtp_scenarios.hpp"
#include "scenarios.hpp"

#include <optional>
#include <string>
#include <vector>

namespace meshbench {

struct Report {
  std::string midimesh; // the hub binary measured
  std::string command;  // how meshbench was started
  unsigned cores = 0;   // hardware threads: everything shares them, hub included
  int hub_pid = 0;
  std::string hub_exit; // how the hub ended
  std::uint64_t window = 0, batch = 0;
  std::vector<ThroughputResult> throughput;
  std::vector<LatencyResult> latency;
  // Through real node processes (socket MIDI backend) and the TCP floor.
  std::string node_hub_exit;
  std::vector<NodeLatencyResult> node_latency;
  std::vector<NodeThroughputResult> node_throughput;
  std::optional<IdleResult> idle;
  std::uint64_t hub_peak_rss_kib = 0, node_peak_rss_kib = 0; // VmHWM; nodes: the largest
  std::optional<LatencySummary> tcp_echo_rtt;
  std::optional<JackRun> jack;            // end to end through JACK, when asked for
  std::optional<RtpRun> rtp;              // through the RTP-MIDI bridge, when asked for
  std::optional<FairnessResult> fairness; // the hub under floods, when asked for
  // Joins and failovers, timed in trials (mesh_trials.hpp).
  std::vector<JoinResult> joins;
  std::vector<FailoverResult> failovers;
  std::string trial_logs; // kept when a trial failed
};

// Whether the goal for a join or failover is met, and the goal in words.
struct Goal {
  std::string text;
  bool met = false;
};
Goal join_goal(const JoinResult& result);
Goal failover_goal(const FailoverResult& result);

// hub / direct for the scenario `label`: delivered msgs/s for throughput; nullopt if one is
// missing.
std::optional<double> throughput_ratio(const Report& report, const std::string& label);
std::optional<double> latency_ratio(const Report& report, const std::string& label,
                                    double LatencySummary::*field);

// p99s over the plain ZeroMQ pair's (1->1 direct), the goal's yardstick; nullopt without it.
struct PairRatios {
  double pair_p99_us = 0;
  std::optional<double> hub_1_to_8, nodes_1_of_8;
};
std::optional<PairRatios> pair_ratios(const Report& report);

std::string format_table(const Report& report);
std::string format_json(const Report& report);

} // namespace meshbench
