#pragma once
// One timed stream between two nodes that already run elsewhere (started by a script, e.g. in
// network namespaces with lossy links: tools/lossy-trials): meshbench plays into the sending
// node's socket MIDI input and listens to the receiving node's output, both by path, and says how
// late, how lost and how out of order the stream came out. The nodes stay up between runs.

#include "percentiles.hpp"
#include "timed_stream.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace meshbench {

struct StreamConfig {
  std::string from, to; // the nodes' --port-name paths
  double rate_hz = 1000;
  double seconds = 10;
  double warmup_seconds = 0.5; // played first and not counted: the output connection settles
};

struct StreamResult {
  std::uint64_t played = 0;       // counted messages the sending node accepted
  std::uint64_t arrived = 0;      // distinct counted messages played out
  std::uint64_t lost = 0;         // played in, never played out
  std::uint64_t duplicates = 0;   // played out more than once
  std::uint64_t out_of_order = 0; // played out after a later one of the stream
  LatencySummary latency;         // of each message's first playing
};

// Pure: what `arrivals` (in the order they were played out) say about messages first..played-1.
StreamResult summarize_stream(const std::vector<Arrival>& arrivals, std::uint64_t first,
                              std::uint64_t played);

// Plays for config.seconds after the warm-up, then waits (bounded) for the rest to come out.
StreamResult run_stream(const StreamConfig& config);
std::string format_stream(const StreamConfig& config, const StreamResult& result);
std::string stream_json(const StreamConfig& config, const StreamResult& result);

} // namespace meshbench
