#pragma once
// How long MIDI waits for the mesh: a node joining (by --connect, or found by mDNS), and the
// hub dying (SIGKILL) or leaving cleanly (SIGTERM), in repeated trials with real node
// processes on 127.0.0.1 played into through the socket MIDI backend at one message per ms.
// tools/failover-trials measures the same across network namespaces with JACK, at 10 ms.
// A trial that fails (a bound passed) is recorded with why, and the next one starts; every
// process a trial starts is ended by PID before the next one.

#include "percentiles.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace meshbench {

struct TrialsConfig {
  std::string midimesh;
  std::string dir; // node logs and socket paths; must exist
  std::size_t trials = 20;
  std::optional<std::string> no_mdns; // why the mDNS trials cannot run, if they cannot
  std::string log_level = "info";     // of the nodes' logs
  std::function<void(const std::string&)> progress = [](const std::string&) {}; // a line a trial
};

struct JoinResult {
  std::string label; // "connect" or "mdns"
  std::string skipped;
  std::size_t trials = 0;
  // Launch of the new node -> the first of its messages played out by another node.
  std::vector<std::int64_t> samples_us;
  LatencySummary summary; // p50 is the median, max the worst
  std::vector<std::string> failures;
};

struct FailoverSample {
  std::int64_t us = 0;             // the signal -> the first message sent after it, played out
  std::int64_t gap_us = 0;         // the longest silence at the receiver over the hand-over
  std::int64_t last_before_us = 0; // how long before the signal the last message arrived
  std::uint64_t played = 0, lost = 0, duplicates = 0; // over the whole stream of the trial
  std::string new_hub;                                // "sender", "receiver" or "unsettled"
};

struct FailoverResult {
  std::string label; // "SIGKILL" or "SIGTERM"
  std::string skipped;
  std::size_t trials = 0;
  std::vector<FailoverSample> samples;
  LatencySummary summary, gap;
  std::uint64_t lost = 0;
  std::size_t trials_with_loss = 0;
  std::vector<std::string> failures;
};

// A hub process and a receiving node joined; each trial launches `--connect` node.
JoinResult run_connect_join(const TrialsConfig& config);
// Each trial: a fresh automatic mesh of 2 carrying MIDI, then a third automatic node launched.
JoinResult run_mdns_join(const TrialsConfig& config);
// Each trial: a fresh automatic mesh of 3; one survivor plays, the other listens; the hub gets
// `signal` (SIGKILL or SIGTERM).
FailoverResult run_failover(const TrialsConfig& config, int signal);

} // namespace meshbench
