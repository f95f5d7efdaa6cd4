// Each sender's budget at the hub, and the tally of what receivers' queues hold: driven on
// simulated time and by hand-made messages, no sockets.

#include "hub/queued_bytes.hpp"
#include "hub/sender_budget.hpp"

#include <catch2/catch.hpp>
#include <cstring>

using namespace midimesh;

namespace {
constexpr std::uint64_t second = 1'000'000;
const std::string honest = "00000000000000aa", flooder = "00000000000000bb";
constexpr std::size_t note = 16 + 35;          // topic and the envelope of a note-on
constexpr std::size_t sysex = 16 + 200 * 1000; // a 200 KB dump

// Sends `count` messages of `bytes` from `sender` evenly over [start, start + seconds); returns
// how many were admitted.
std::uint64_t stream(hub::SenderBudget& budget, const std::string& sender, std::uint64_t count,
                     std::size_t bytes, std::uint64_t start_us, double seconds) {
  std::uint64_t admitted = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto t = start_us + static_cast<std::uint64_t>(seconds * 1e6 * i / count);
    admitted += budget.admit(sender, bytes, t).admitted;
  }
  return admitted;
}
} // namespace

TEST_CASE("an honest 1 kHz stream, chords and an occasional SysEx dump all pass") {
  hub::SenderBudget budget;
  CHECK(stream(budget, honest, 60'000, note, 0, 60.0) == 60'000);
  // A chord of 100 notes at once, then a dump of 200 KB four times in a row.
  CHECK(stream(budget, honest, 100, note, 60 * second, 0.0) == 100);
  CHECK(stream(budget, honest, 4, sysex, 60 * second, 0.0) == 4);
  // One dump every second goes on passing.
  CHECK(stream(budget, honest, 20, sysex, 61 * second, 20.0) == 20);
  CHECK(budget.dropped() == 0);
  CHECK(budget.senders_over_budget() == 0);
}

TEST_CASE("a node resending its last second at 1 kHz and 400 ms held after a failover passes") {
  hub::SenderBudget budget;
  CHECK(stream(budget, honest, 1000 + 400, note, 0, 0.0) == 1400);
}

TEST_CASE("a note-on flood passes at the budget's rate, its excess dropped and counted") {
  hub::SenderBudget budget;
  // A million notes in 10 s: the burst, then 5,000 a second.
  const auto admitted = stream(budget, flooder, 1'000'000, note, 0, 10.0);
  const double expected = 2'000 + 5'000 * 10.0;
  CHECK(static_cast<double>(admitted) == Approx(expected).epsilon(0.01));
  CHECK(budget.dropped() == 1'000'000 - admitted);
  CHECK(budget.dropped_of(flooder) == budget.dropped());
  CHECK(budget.dropped_bytes() == budget.dropped() * note);
  CHECK(budget.senders_over_budget() == 1);
}

TEST_CASE("a SysEx flood passes at the byte rate") {
  hub::SenderBudget budget;
  // 1,000 dumps of 200 KB in 10 s (20 MB/s): the 1 MiB burst, then 256 KiB a second.
  const auto admitted = stream(budget, flooder, 1000, sysex, 0, 10.0);
  const double bytes = 1024.0 * 1024 + 10 * 256.0 * 1024;
  CHECK(static_cast<double>(admitted) == Approx(bytes / sysex).margin(1.5));
}

TEST_CASE("one sender's flood costs another nothing") {
  hub::SenderBudget budget;
  std::uint64_t honest_admitted = 0;
  for (std::uint64_t ms = 0; ms < 10'000; ++ms) {
    for (int i = 0; i < 100; ++i)
      (void)budget.admit(flooder, sysex, ms * 1000 + static_cast<std::uint64_t>(i));
    honest_admitted += budget.admit(honest, note, ms * 1000 + 500).admitted;
  }
  CHECK(honest_admitted == 10'000);
  CHECK(budget.dropped_of(honest) == 0);
  CHECK(budget.dropped_of(flooder) > 900'000);
}

TEST_CASE("a message over the byte burst never passes, so the burst holds the largest frame") {
  hub::SenderBudget budget;
  CHECK(budget.admit(honest, 512 * 1024 + 64, 0).admitted);
  hub::BudgetLimits tight;
  tight.byte_burst = 1000;
  hub::SenderBudget small(tight);
  CHECK_FALSE(small.admit(honest, 1001, 10 * second).admitted);
}

TEST_CASE("an over-budget sender is reported at once, then summed up once per 5 s") {
  hub::BudgetLimits limits;
  limits.messages_per_s = 10;
  limits.message_burst = 10;
  hub::SenderBudget budget(limits);
  for (int i = 0; i < 10; ++i)
    REQUIRE(budget.admit(flooder, note, 0).admitted);
  const auto first = budget.admit(flooder, note, 0);
  CHECK_FALSE(first.admitted);
  CHECK(first.report);
  CHECK(first.dropped == 1);
  // Further drops within 5 s: counted, not logged one by one.
  for (int i = 0; i < 50; ++i)
    CHECK_FALSE(budget.admit(flooder, note, 1000).report);
  CHECK(budget.flush(4 * second).empty());
  // The flood stopped: its sum still comes, once.
  const auto reports = budget.flush(5 * second);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].sender == flooder);
  CHECK(reports[0].dropped == 50);
  CHECK(budget.flush(11 * second).empty());
  CHECK(budget.dropped() == 51);
}

TEST_CASE("idle senders are forgotten; ids beyond the table's size share one bucket") {
  hub::BudgetLimits limits;
  limits.messages_per_s = 1;
  limits.message_burst = 2;
  hub::SenderBudget budget(limits, 3);
  for (const char* id : {"a", "b", "c"})
    CHECK(budget.admit(id, note, 0).admitted);
  CHECK(budget.senders() == 3);
  // A fourth id and a fifth share the overflow bucket: two messages between them.
  CHECK(budget.admit("d", note, 0).admitted);
  CHECK(budget.admit("e", note, 0).admitted);
  CHECK_FALSE(budget.admit("f", note, 0).admitted);
  CHECK(budget.dropped_of(hub::SenderBudget::overflow_id) == 1);
  // Buckets full again and nothing left to report: the entries go (the overflow's drop was
  // reported at once, its interval must pass first).
  CHECK(budget.flush(2 * second).size() == 0);
  CHECK(budget.senders() == 1);
  CHECK(budget.flush(6 * second).empty());
  CHECK(budget.senders() == 0);
  CHECK(budget.admit("g", note, 6 * second).admitted);
}

TEST_CASE("a budget that is off admits everything") {
  hub::BudgetLimits off;
  off.enabled = false;
  hub::SenderBudget budget(off);
  CHECK(stream(budget, flooder, 100'000, sysex, 0, 0.0) == 100'000);
  CHECK(budget.senders() == 0);
}

TEST_CASE("queued bytes: large messages stop at their share, small ones may use the rest") {
  hub::QueueLimits limits;
  limits.total = 10'000;
  limits.large = 6'000;
  limits.large_from = 1'000;
  limits.overhead = 100;
  CHECK(hub::QueuedBytes::fits(limits, 0, 5'900));
  CHECK_FALSE(hub::QueuedBytes::fits(limits, 1, 5'900));
  CHECK_FALSE(hub::QueuedBytes::fits(limits, 6'000, 2'000));
  CHECK(hub::QueuedBytes::fits(limits, 6'000, 35));
  CHECK(hub::QueuedBytes::fits(limits, 9'865, 35));
  CHECK_FALSE(hub::QueuedBytes::fits(limits, 9'866, 35));
  CHECK_FALSE(hub::QueuedBytes::fits(limits, 20'000, 35)); // held over the limit: nothing fits
}

TEST_CASE("queued bytes are held until the last copy of a message is freed, even past the "
          "tally's owner") {
  hub::QueueLimits limits;
  limits.overhead = 0;
  zmq::message_t kept;
  {
    hub::QueuedBytes queued(limits);
    zmq::message_t body(1000);
    std::memset(body.data(), 7, body.size());
    const void* where = body.data();
    zmq::message_t tracked = queued.track(std::move(body));
    CHECK(tracked.size() == 1000);
    CHECK(tracked.data() == where); // wrapped, not copied
    CHECK(queued.held() == 1000);
    // ZeroMQ shares one content between receivers' queues: a copy is one more reference.
    zmq::message_t copy;
    copy.copy(tracked);
    tracked = zmq::message_t();
    CHECK(queued.held() == 1000);
    copy = zmq::message_t();
    CHECK(queued.held() == 0);
    CHECK(queued.peak() == 1000);
    kept = queued.track(zmq::message_t(64));
    CHECK(queued.held() == 64);
  }
  // The tally is gone; the message it tracked still frees cleanly (ASan would say otherwise).
  CHECK(kept.size() == 64);
}
