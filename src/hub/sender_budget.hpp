#pragma once
// How much each sender may push through the hub: a token bucket in messages and one in bytes per
// sender id, refilled with time. A message that finds either bucket short is dropped (its
// receivers see a gap in that sender's sequence) and costs the sender nothing, so a flood passes
// at the budget's rate and the hub forwards no more of it than of any honest player at its peak.
// Pure: the hub passes the time and the sizes; nothing here reads a clock or a socket.
//
// The budget is per id because the id is what receivers account by, and a node that bridges
// RTP-MIDI members sends each under an id of its own. On an open mesh the id is the sender's
// word: a program that rotates ids gets a fresh bucket for each, up to max_senders; beyond that
// new ids share one overflow bucket. Only a secured mesh settles who may send at all.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace midimesh::hub {

struct BudgetLimits {
  // Generous for any player: a 1 kHz stream is a fifth of it, a chord of 100 notes passes at
  // once, and after a failover a node resends its last second at 1 kHz and what it held meanwhile
  // in one burst. A note-on flood passes at 5,000/s, not at the million/s it tries. The burst
  // is what a flooder may put in front of everyone else's messages at once (in every receiver's
  // queue): 2,000 small messages take a receiver a few milliseconds.
  double messages_per_s = 5'000;
  double message_burst = 2'000;
  // 80 times a MIDI cable's 3,125 B/s; a 200 KB SysEx dump passes at once (a burst holds four),
  // and one more a second after that. A burst must hold the largest frame (512 KiB).
  double bytes_per_s = 256.0 * 1024;
  double byte_burst = 1024.0 * 1024;
  bool enabled = true; // false: admit everything (benchmarks of the hub's raw capacity)
};

struct Admission {
  bool admitted = true;
  // Dropped: log it now (the sender's first drop, or the first after 5 s); `dropped` holds the
  // sender's drops not logged yet, this one included.
  bool report = false;
  std::uint64_t dropped = 0;
};

// A sender's drops that were never logged, summed up by flush().
struct DropReport {
  std::string sender;
  std::uint64_t dropped = 0;
};

class SenderBudget {
public:
  static constexpr std::size_t default_max_senders = 4096;

  explicit SenderBudget(const BudgetLimits& limits = {},
                        std::size_t max_senders = default_max_senders);

  // One message of `bytes` (topic and envelope) from `sender` at now_us.
  Admission admit(std::string_view sender, std::size_t bytes, std::uint64_t now_us);

  // Senders whose drops since their last log line are due to be summed up (a flood that
  // stopped is still reported), and forgets senders idle long enough that their buckets are
  // full again: their entries would admit exactly what a new one admits.
  std::vector<DropReport> flush(std::uint64_t now_us);

  const BudgetLimits& limits() const noexcept { return limits_; }
  std::uint64_t dropped() const noexcept { return dropped_; }
  std::uint64_t dropped_bytes() const noexcept { return dropped_bytes_; }
  std::size_t senders() const noexcept { return senders_.size(); }
  // Senders that have had anything dropped since the hub started.
  std::uint64_t senders_over_budget() const noexcept { return senders_over_budget_; }
  // Drops of the one sender; 0 when it is unknown (never over budget, or forgotten).
  std::uint64_t dropped_of(std::string_view sender) const;

  // The id under which senders beyond max_senders are accounted together.
  static constexpr std::string_view overflow_id = "(too many senders)";

private:
  struct Bucket {
    double messages = 0, bytes = 0;
    std::uint64_t updated_us = 0;
    std::uint64_t dropped = 0;    // in total
    std::uint64_t unreported = 0; // not yet in a log line
    std::uint64_t reported_us = 0;
    bool reported = false; // once at least
  };
  Bucket fresh(std::uint64_t now_us) const;
  void refill(Bucket& bucket, std::uint64_t now_us) const;

  BudgetLimits limits_;
  std::size_t max_senders_;
  std::map<std::string, Bucket, std::less<>> senders_;
  std::uint64_t dropped_ = 0, dropped_bytes_ = 0, senders_over_budget_ = 0;
};

} // namespace midimesh::hub
