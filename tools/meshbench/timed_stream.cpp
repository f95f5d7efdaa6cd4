#include "timed_stream.hpp"

#include "receiver.hpp"
#include "stamp.hpp"

#include <algorithm>

namespace meshbench {
namespace {

constexpr auto wake = std::chrono::milliseconds(5);

} // namespace

std::vector<std::uint8_t> stamp(std::uint8_t stream, std::uint64_t seq, std::uint64_t time_us) {
  const auto m = encode_stamp({Stamp::stream, stream, seq, time_us});
  return {m.begin(), m.end()};
}

bool read_stamp(const std::vector<std::uint8_t>& m, std::uint8_t stream, Arrival& out) {
  const auto s = decode_stamp(m);
  if (!s || s->kind != Stamp::stream || s->source != (stream & 0x7F)) return false;
  out.seq = s->seq;
  out.sent_us = s->time_us;
  out.at_us = 0;
  return true;
}

TimedStream::TimedStream(MidiInlet inlet, MidiOutlet& outlet, std::uint8_t stream,
                         std::chrono::microseconds period)
    : inlet_(std::move(inlet)), outlet_(outlet), stream_(stream), period_(period) {
  arrivals_.reserve(1 << 16);
  player_ = std::thread([this] { play(); });
}

TimedStream::~TimedStream() {
  stop_ = true;
  if (player_.joinable()) player_.join();
}

void TimedStream::play() {
  auto next = Clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    std::this_thread::sleep_until(next);
    const std::uint64_t seq = played_.load(std::memory_order_relaxed);
    if (inlet_.play(stamp(stream_, seq, steady_us()))) played_.store(seq + 1);
    next += period_;
    const auto now = Clock::now();
    if (next < now) next = now + period_; // late (a busy machine): no burst to catch up
  }
}

void TimedStream::take_arrivals() {
  while (outlet_.take(message_)) {
    const std::uint64_t now = steady_us();
    Arrival a;
    if (!read_stamp(message_, stream_, a)) continue;
    a.at_us = now;
    arrivals_.push_back(a);
  }
}

bool TimedStream::listen_until(const std::function<bool()>& done, Clock::time_point deadline) {
  for (;;) {
    take_arrivals();
    if (done()) return true;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    (void)outlet_.readable(std::clamp(left, std::chrono::milliseconds(1), wake));
  }
}

void TimedStream::drain(std::chrono::milliseconds quiet, Clock::time_point deadline) {
  stop_ = true;
  if (player_.joinable()) player_.join();
  const std::uint64_t played = played_.load();
  auto last = Clock::now();
  std::size_t seen = arrivals_.size();
  (void)listen_until(
      [&] {
        if (arrivals_.size() != seen) last = Clock::now();
        seen = arrivals_.size();
        if (Clock::now() - last >= quiet) return true;
        // Done when the newest message played has come (duplicates would count twice).
        return std::any_of(arrivals_.rbegin(), arrivals_.rend(),
                           [&](const Arrival& a) { return played && a.seq == played - 1; });
      },
      deadline);
}

const Arrival* TimedStream::first_sent_after(std::uint64_t t_us) const noexcept {
  for (const Arrival& a : arrivals_)
    if (a.sent_us > t_us) return &a;
  return nullptr;
}

} // namespace meshbench
