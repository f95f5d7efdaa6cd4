#pragma once
// The hub under abuse (issue 10, item 4): two honest senders stream note-ons at 1 kHz each to
// two receivers while one sender floods 200 KB SysEx dumps, another floods note-ons, and two
// receivers stop reading: a ZeroMQ SUB that never calls recv (and has no heartbeats), and a raw
// TCP client that completes the ZMTP handshake, subscribes, and never reads a byte. What the
// honest streams lose and how late they arrive, how much of the floods got through, and the
// hub's peak memory.

#include "percentiles.hpp"

#include <cstdint>
#include <string>

namespace meshbench {

struct FairnessPlan {
  std::string midimesh;
  std::string hub_log;
  double seconds = 10;   // how long everything runs
  double rate_hz = 1000; // per honest sender
  std::size_t sysex_bytes = 200'000;
  double sysex_rate_hz = 500;          // offered: 100 MB/s; 0: no SysEx flood
  double note_flood_rate_hz = 200'000; // offered (under 1,000: none)
};

struct FairnessResult {
  std::uint64_t sent = 0, expected = 0, delivered = 0, gaps = 0; // honest streams
  LatencySummary latency;
  std::uint64_t sysex_offered = 0, notes_offered = 0;
  // What reached each honest receiver of the floods, on average.
  double sysex_delivered = 0, notes_delivered = 0;
  std::uint64_t hub_peak_rss_kib = 0;
  std::string hub_stats; // the hub's last stats line: its drop counters
  std::string hub_exit;
};

// Throws BenchError when the scenario cannot run (the hub died, receivers never heard).
FairnessResult run_fairness(const FairnessPlan& plan);

} // namespace meshbench
