#include "percentiles.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace meshbench {
namespace {

double rank(const std::vector<std::int64_t>& sorted, double fraction) {
  const auto n = static_cast<double>(sorted.size());
  const auto index = static_cast<std::size_t>(std::max(1.0, std::ceil(fraction * n))) - 1;
  return static_cast<double>(sorted[std::min(index, sorted.size() - 1)]);
}

} // namespace

LatencySummary summarize(std::vector<std::int64_t> samples_us) {
  LatencySummary s;
  if (samples_us.empty()) return s;
  std::sort(samples_us.begin(), samples_us.end());
  s.count = samples_us.size();
  s.p50_us = rank(samples_us, 0.50);
  s.p90_us = rank(samples_us, 0.90);
  s.p99_us = rank(samples_us, 0.99);
  s.p999_us = rank(samples_us, 0.999);
  s.max_us = static_cast<double>(samples_us.back());
  s.mean_us =
      static_cast<double>(std::accumulate(samples_us.begin(), samples_us.end(), std::int64_t{0})) /
      static_cast<double>(s.count);
  return s;
}

} // namespace meshbench
