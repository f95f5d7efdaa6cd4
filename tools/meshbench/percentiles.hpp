#pragma once
// Latency summary of a set of samples. Pure: sorts a copy, no clock, no I/O.

#include <cstdint>
#include <vector>

namespace meshbench {

struct LatencySummary {
  std::uint64_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

// Nearest-rank percentiles: every reported value is one that was measured.
LatencySummary summarize(std::vector<std::int64_t> samples_us);

} // namespace meshbench
