#include "stream_run.hpp"

#include "receiver.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace meshbench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint8_t stream_id = 42;
// After the last message was played: what is still in flight (a retransmission backs off up to
// seconds at 5 % loss) gets this long to come out, and gives up after this much silence.
constexpr std::chrono::milliseconds drain_limit(5'000);
constexpr std::chrono::milliseconds drain_quiet(2'000);

} // namespace

StreamResult summarize_stream(const std::vector<Arrival>& arrivals, std::uint64_t first,
                              std::uint64_t played) {
  StreamResult r;
  r.played = played > first ? played - first : 0;
  std::vector<bool> seen(r.played, false);
  std::vector<std::int64_t> latencies;
  latencies.reserve(r.played);
  std::uint64_t newest = 0;
  bool any = false;
  for (const Arrival& a : arrivals) {
    if (a.seq < first || a.seq >= played) continue;
    const std::uint64_t i = a.seq - first;
    if (seen[i]) {
      ++r.duplicates;
      continue;
    }
    seen[i] = true;
    ++r.arrived;
    latencies.push_back(static_cast<std::int64_t>(a.at_us) - static_cast<std::int64_t>(a.sent_us));
    if (any && a.seq < newest) ++r.out_of_order;
    newest = any ? std::max(newest, a.seq) : a.seq;
    any = true;
  }
  r.lost = r.played - r.arrived;
  r.latency = summarize(std::move(latencies));
  return r;
}

StreamResult run_stream(const StreamConfig& config) {
  MidiOutlet outlet(config.to);
  const auto period = std::chrono::microseconds(static_cast<std::int64_t>(1e6 / config.rate_hz));
  TimedStream stream(MidiInlet(config.from), outlet, stream_id, period);
  const auto start = Clock::now();
  const auto counted_from = start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(config.warmup_seconds));
  (void)stream.listen_until([] { return false; }, counted_from);
  const std::uint64_t first = stream.played();
  const auto end = counted_from + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.seconds));
  (void)stream.listen_until([] { return false; }, end);
  stream.drain(drain_quiet, Clock::now() + drain_limit);
  return summarize_stream(stream.arrivals(), first, stream.played());
}

std::string format_stream(const StreamConfig& config, const StreamResult& r) {
  return fmt::format("stream {} -> {} at {:.0f}/s for {:.1f} s: played {}, arrived {}, lost {}, "
                     "duplicates {}, out of order {}; latency p50 {:.2f} p90 {:.2f} p99 {:.2f} "
                     "p99.9 {:.2f} max {:.2f} ms\n",
                     config.from, config.to, config.rate_hz, config.seconds, r.played, r.arrived,
                     r.lost, r.duplicates, r.out_of_order, r.latency.p50_us / 1000,
                     r.latency.p90_us / 1000, r.latency.p99_us / 1000, r.latency.p999_us / 1000,
                     r.latency.max_us / 1000);
}

std::string stream_json(const StreamConfig& config, const StreamResult& r) {
  return fmt::format(
      "{{\"rate_hz\": {:.0f}, \"seconds\": {:.1f}, \"played\": {}, \"arrived\": {}, \"lost\": {}, "
      "\"duplicates\": {}, \"out_of_order\": {}, \"p50_ms\": {:.3f}, \"p90_ms\": {:.3f}, "
      "\"p99_ms\": {:.3f}, \"p999_ms\": {:.3f}, \"max_ms\": {:.3f}}}\n",
      config.rate_hz, config.seconds, r.played, r.arrived, r.lost, r.duplicates, r.out_of_order,
      r.latency.p50_us / 1000, r.latency.p90_us / 1000, r.latency.p99_us / 1000,
      r.latency.p999_us / 1000, r.latency.max_us / 1000);
}

} // namespace meshbench
