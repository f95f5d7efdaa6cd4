#pragma once
// End to end through JACK: meshbench starts its own JACK server (jack_server.hpp) per period, a
// hub, and real nodes with `--midi-api jack`; its own JACK client (jack_latency.hpp) plays into
// node 0's input port and listens to every other node's output port. What the socket-backend
// node scenarios measure plus what the JACK MIDI driver adds, in JACK's own frame clock.

#include "percentiles.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace meshbench {

struct JackPlan {
  std::string midimesh;
  std::vector<unsigned> periods = {512, 128}; // frames
  std::vector<std::size_t> node_counts = {2, 8};
  unsigned sample_rate = 48000;
  double rate_hz = 1000; // node 0 plays this many messages per second of frame time
  double seconds = 10;
  std::string hub_log;
};

struct JackLatencyResult {
  unsigned period = 0, sample_rate = 0;
  std::size_t nodes = 0;
  double rate_hz = 0; // achieved, in frame time
  std::uint64_t sent = 0, expected = 0, delivered = 0, lost = 0;
  std::uint64_t reordered = 0, duplicates = 0; // arrivals behind a later one; seen twice
  std::uint64_t xruns = 0;                     // reported to meshbench's client during the run
  std::uint64_t write_failures = 0;            // meshbench's own output buffer was full
  // Frames the clock advanced per wall-clock second, over the sample rate: below 1 when the
  // dummy driver's cycles ran late (synchronous mode waits for the slowest client).
  double frame_clock_ratio = 0;
  LatencySummary latency;
  std::string error; // non-empty: the scenario could not run to the end, and why
  double period_ms() const { return sample_rate ? 1e3 * period / sample_rate : 0; }
};

struct JackRun {
  std::string skipped; // non-empty: nothing ran, and why
  std::vector<JackLatencyResult> results;
  bool failed() const {
    return std::any_of(results.begin(), results.end(), [](auto& r) { return !r.error.empty(); });
  }
};

// One server per period, every node count on it in turn. Never throws for a scenario: a
// failure is kept in its result, and the next one runs.
JackRun run_jack_scenarios(const JackPlan& plan);

} // namespace meshbench
