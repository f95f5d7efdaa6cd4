#include "hub/sender_budget.hpp"

#include <algorithm>

namespace midimesh::hub {
namespace {
// As the hub's other throttled lines: the first at once, then one sum per interval.
constexpr std::uint64_t report_interval_us = 5'000'000;
} // namespace

SenderBudget::SenderBudget(const BudgetLimits& limits, std::size_t max_senders)
    : limits_(limits), max_senders_(std::max<std::size_t>(1, max_senders)) {}

SenderBudget::Bucket SenderBudget::fresh(std::uint64_t now_us) const {
  Bucket bucket;
  bucket.messages = limits_.message_burst;
  bucket.bytes = limits_.byte_burst;
  bucket.updated_us = now_us;
  return bucket;
}

void SenderBudget::refill(Bucket& bucket, std::uint64_t now_us) const {
  if (now_us <= bucket.updated_us) return; // time never runs backwards for a bucket
  const double seconds = static_cast<double>(now_us - bucket.updated_us) / 1e6;
  bucket.messages =
      std::min(limits_.message_burst, bucket.messages + seconds * limits_.messages_per_s);
  bucket.bytes = std::min(limits_.byte_burst, bucket.bytes + seconds * limits_.bytes_per_s);
  bucket.updated_us = now_us;
}

Admission SenderBudget::admit(std::string_view sender, std::size_t bytes, std::uint64_t now_us) {
  if (!limits_.enabled) return {};
  auto it = senders_.find(sender);
  if (it == senders_.end()) {
    if (senders_.size() >= max_senders_) sender = overflow_id;
    it = senders_.find(sender);
    if (it == senders_.end()) it = senders_.emplace(std::string(sender), fresh(now_us)).first;
  }
  Bucket& bucket = it->second;
  refill(bucket, now_us);
  const auto size = static_cast<double>(bytes);
  if (bucket.messages >= 1 && bucket.bytes >= size) {
    bucket.messages -= 1;
    bucket.bytes -= size;
    return {};
  }
  // A dropped message costs nothing: the sender's excess goes, what fits its budget still passes.
  ++dropped_;
  dropped_bytes_ += bytes;
  if (bucket.dropped++ == 0) ++senders_over_budget_;
  ++bucket.unreported;
  Admission admission{false, false, bucket.unreported};
  if (!bucket.reported || now_us >= bucket.reported_us + report_interval_us) {
    admission.report = true;
    bucket.reported = true;
    bucket.reported_us = now_us;
    bucket.unreported = 0;
  }
  return admission;
}

std::vector<DropReport> SenderBudget::flush(std::uint64_t now_us) {
  std::vector<DropReport> reports;
  for (auto it = senders_.begin(); it != senders_.end();) {
    Bucket& bucket = it->second;
    if (bucket.unreported && now_us >= bucket.reported_us + report_interval_us) {
      reports.push_back({it->first, bucket.unreported});
      bucket.unreported = 0;
      bucket.reported_us = now_us;
    }
    refill(bucket, now_us);
    const bool full =
        bucket.messages >= limits_.message_burst && bucket.bytes >= limits_.byte_burst;
    // Kept while a drop is still to be reported, or within a report interval of the last line,
    // so a flooder that pauses does not get a fresh "first" line every few seconds.
    const bool quiet = bucket.unreported == 0 &&
                       (!bucket.reported || now_us >= bucket.reported_us + report_interval_us);
    if (full && quiet)
      it = senders_.erase(it);
    else
      ++it;
  }
  return reports;
}

std::uint64_t SenderBudget::dropped_of(std::string_view sender) const {
  auto it = senders_.find(sender);
  return it == senders_.end() ? 0 : it->second.dropped;
}

} // namespace midimesh::hub
