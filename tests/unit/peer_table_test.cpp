// Peer bookkeeping on simulated time: gaps, bursts, staleness and expiry.

#include "node/peer_table.hpp"

#include <catch2/catch.hpp>

using midimesh::node::PeerTable;

TEST_CASE("a peer first heard mid-stream has lost nothing") {
  PeerTable table;
  const auto first = table.arrive("a", 500, 0);
  CHECK(first.new_peer);
  CHECK(first.lost == 0);
  CHECK(table.arrive("a", 501, 10).lost == 0);
}

TEST_CASE("sequence gaps are counted per peer, and a burst is reported once it goes quiet") {
  PeerTable table(1'000);
  table.arrive("a", 0, 0);
  table.arrive("b", 0, 0);
  const auto gap = table.arrive("a", 5, 100);
  CHECK(gap.lost == 4);
  CHECK(gap.burst_started);
  const auto more = table.arrive("a", 8, 200);
  CHECK(more.lost == 2);
  CHECK_FALSE(more.burst_started);
  CHECK(table.arrive("b", 1, 200).lost == 0);

  CHECK(table.finished_bursts(1'100).empty()); // still within the quiet time of the last gap
  const auto reports = table.finished_bursts(1'200);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].id == "a");
  CHECK(reports[0].lost == 6);
  CHECK(table.find("a")->lost == 6);
  CHECK(table.finished_bursts(5'000).empty());
  CHECK(table.arrive("a", 10, 6'000).burst_started); // a new burst
}

TEST_CASE("repeated or old sequence numbers are stale") {
  PeerTable table;
  table.arrive("a", 3, 0);
  CHECK(table.arrive("a", 3, 1).stale);
  CHECK(table.arrive("a", 1, 2).stale);
  CHECK(table.find("a")->received == 1);
}

TEST_CASE("peers not heard for the timeout expire; others stay") {
  PeerTable table;
  table.arrive("a", 0, 0);
  table.arrive("b", 0, 0);
  table.arrive("b", 1, 900);
  const auto gone = table.expire(1'000, 1'000);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].id == "a");
  CHECK(table.find("a") == nullptr);
  CHECK(table.find("b") != nullptr);
}

TEST_CASE("after this node was away, every peer counts as just heard") {
  PeerTable table;
  table.arrive("a", 0, 0);
  table.heard_all(5'000);
  CHECK(table.expire(5'500, 1'000).empty());
  CHECK(table.expire(6'000, 1'000).size() == 1);
}
