#pragma once
// Keeps a flood of identical problems (a garbage sender, a stalled peer) from flooding the log:
// the first occurrence is logged at once, later ones are counted and summed up at most once per
// interval. Pure: the caller passes the time.

#include <cstdint>
#include <fmt/format.h>
#include <string>

namespace midimesh::log {

// " (N more since the last report)" for a line a throttle admitted; empty when none was held.
inline std::string since_last_report(std::uint64_t suppressed) {
  return suppressed ? fmt::format(" ({} more since the last report)", suppressed) : "";
}

class Throttle {
public:
  explicit Throttle(std::uint64_t interval_us = 5'000'000) : interval_us_(interval_us) {}

  // Counts one occurrence. True when the caller should log now; `suppressed` then holds how
  // many occurrences went unlogged since the last line.
  bool admit(std::uint64_t now_us, std::uint64_t& suppressed) {
    if (logged_once_ && now_us < last_us_ + interval_us_) {
      ++pending_;
      return false;
    }
    suppressed = pending_;
    pending_ = 0;
    last_us_ = now_us;
    logged_once_ = true;
    return true;
  }

  // True once per interval while occurrences went unlogged: the caller sums them up in one
  // line (`suppressed`), so a burst that stopped is still reported.
  bool flush(std::uint64_t now_us, std::uint64_t& suppressed) {
    if (pending_ == 0 || now_us < last_us_ + interval_us_) return false;
    suppressed = pending_;
    pending_ = 0;
    last_us_ = now_us;
    return true;
  }

private:
  std::uint64_t interval_us_;
  std::uint64_t last_us_ = 0;
  std::uint64_t pending_ = 0;
  bool logged_once_ = false;
};

} // namespace midimesh::log
