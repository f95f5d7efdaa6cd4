// The hub's choice of the first copy of each message a node sends over several connections, on
// simulated time: copies in any interleaving, a single connection, forged numbers, forgetting.

#include "hub/first_copy.hpp"
#include "wire/envelope.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

using midimesh::hub::FirstCopy;

namespace {
constexpr std::uint8_t midi = 1;
constexpr std::uint8_t beacon = 4;
const std::string a = "aaaaaaaaaaaaaaaa";
const std::string b = "bbbbbbbbbbbbbbbb";
} // namespace

TEST_CASE("two connections' copies in any interleaving: each message forwarded once, in order") {
  std::mt19937 random(7);
  for (int trial = 0; trial < 50; ++trial) {
    FirstCopy filter;
    // Each connection delivers 0..999 in order; which one the hub reads next is random, and one
    // of them runs up to 300 messages behind (a retransmission holding it back).
    std::size_t next[2] = {0, 0};
    std::vector<std::uint64_t> forwarded;
    while (next[0] < 1000 || next[1] < 1000) {
      std::size_t c = random() % 2;
      if (next[c] >= 1000 || (c == 1 && next[1] + 300 < next[0] && random() % 4)) c = 1 - c;
      if (next[c] >= 1000) c = 1 - c;
      const std::uint64_t seq = next[c]++;
      if (filter.admit(a, midi, seq, 0)) forwarded.push_back(seq);
    }
    REQUIRE(forwarded.size() == 1000);
    for (std::uint64_t i = 0; i < 1000; ++i)
      REQUIRE(forwarded[i] == i);
  }
}

TEST_CASE("a client with one connection: everything of it passes, gaps included") {
  FirstCopy filter;
  for (std::uint64_t s : {5, 6, 7, 20, 21, 22})
    CHECK(filter.admit(a, midi, s, 0));
  CHECK(filter.admit(b, midi, 0, 0)); // senders are apart
  CHECK(filter.admit(b, midi, 1, 0));
  CHECK_FALSE(filter.admit(b, midi, 1, 0)); // a copy
}

TEST_CASE("a forged number far ahead mutes nothing of the sender's own") {
  FirstCopy filter;
  CHECK(filter.admit(a, midi, 10, 0));
  CHECK(filter.admit(a, midi, 1'000'000, 1)); // forged: passes, as receivers would play it
  for (std::uint64_t s = 11; s < 20; ++s)
    CHECK(filter.admit(a, midi, s, 2));
  CHECK_FALSE(filter.admit(a, midi, 19, 3)); // the copies still go
}

TEST_CASE("a failover's replay through this hub: first heard, then its copies dropped") {
  FirstCopy filter;
  for (std::uint64_t s = 4'000; s < 5'000; ++s)
    CHECK(filter.admit(a, midi, s, 0));
  for (std::uint64_t s = 4'000; s < 5'000; ++s)
    CHECK_FALSE(filter.admit(a, midi, s, 0));
}

TEST_CASE("beacons and status reports are numbered apart: never taken for copies") {
  FirstCopy filter;
  CHECK(filter.admit(a, midi, 100, 0));
  CHECK(filter.admit(a, beacon, 3, 0));
  CHECK(filter.admit(a, beacon, 3, 0));
  CHECK(filter.admit(a, midi, 101, 0));
}

TEST_CASE("senders are forgotten after their silence, and the table is bounded") {
  FirstCopy filter(FirstCopy::Limits{2, 1'000});
  CHECK(filter.admit(a, midi, 0, 0));
  CHECK(filter.admit(b, midi, 0, 0));
  CHECK(filter.admit("cccccccccccccccc", midi, 0, 10)); // full: passes untracked
  CHECK(filter.admit("cccccccccccccccc", midi, 0, 10));
  CHECK(filter.untracked() == 2);
  CHECK(filter.senders() == 2);
  CHECK(filter.admit(b, midi, 1, 500));
  CHECK_FALSE(filter.admit(a, midi, 0, 999));
  CHECK(filter.admit(a, midi, 0, 2'000)); // a forgotten (b too): its number starts afresh
  CHECK(filter.senders() == 1);
}

TEST_CASE("frames: a parsed envelope is judged by its sender and number; garbage passes") {
  FirstCopy filter;
  const std::vector<std::uint8_t> payload{0x90, 60, 100};
  const auto frame = midimesh::wire::encode(midimesh::wire::MessageType::midi, a, 7, 0, payload);
  CHECK(filter.admit(frame, 0));
  CHECK_FALSE(filter.admit(frame, 0));
  const std::vector<std::uint8_t> garbage{0xc1};
  CHECK(filter.admit(garbage, 0));
}
