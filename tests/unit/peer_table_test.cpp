// Peer bookkeeping on simulated time: gaps, bursts, staleness and expiry.

#include "node/peer_table.hpp"

#include <catch2/catch.hpp>

using midimesh::node::PeerTable;
using midimesh::node::SequenceRule;

TEST_CASE("a peer first heard mid-stream has lost nothing") {
  PeerTable table;
  const auto first = table.arrive("a", 500, 0);
  CHECK(first.new_peer);
  CHECK(first.lost == 0);
  CHECK(table.arrive("a", 501, 10).lost == 0);
}

TEST_CASE("sequence gaps are counted per peer once the next message confirms them, and a burst "
          "is reported once it goes quiet") {
  PeerTable table(1'000);
  table.arrive("a", 0, 0);
  table.arrive("b", 0, 0);
  const auto jump = table.arrive("a", 5, 100);
  CHECK_FALSE(jump.stale); // played at once
  CHECK(jump.lost == 0);   // but not yet trusted
  const auto gap = table.arrive("a", 6, 110);
  CHECK(gap.lost == 4);
  CHECK(gap.burst_started);
  table.arrive("a", 9, 200);
  const auto more = table.arrive("a", 10, 200);
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
  table.arrive("a", 12, 6'000);
  CHECK(table.arrive("a", 13, 6'000).burst_started); // a new burst
}

TEST_CASE("two gaps in a row: the second message confirms the first gap and opens its own") {
  PeerTable table;
  table.arrive("a", 10, 0);
  table.arrive("a", 15, 1);
  CHECK(table.arrive("a", 20, 2).lost == 4);
  CHECK(table.arrive("a", 21, 3).lost == 4);
  CHECK(table.find("a")->lost == 8);
  CHECK(table.find("a")->received == 4);
}

TEST_CASE("repeated or old sequence numbers are stale") {
  PeerTable table;
  table.arrive("a", 3, 0);
  CHECK(table.arrive("a", 3, 1).stale);
  CHECK(table.arrive("a", 1, 2).stale);
  CHECK(table.find("a")->received == 1);
}

TEST_CASE("a burst whose sender expires or leaves before it goes quiet is still reported") {
  PeerTable table(1'000);
  for (const char* id : {"a", "b"}) {
    table.arrive(id, 0, 0);
    table.arrive(id, 5, 100);
    table.arrive(id, 6, 100); // 4 lost
  }
  REQUIRE(table.expire(600, 500).size() == 2); // silent since the gap: gone before quiet time
  table.arrive("b", 7, 700);                   // b comes back: its line goes on, its burst ended
  const auto reports = table.finished_bursts(700);
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].id == "a");
  CHECK(reports[0].lost == 4);
  CHECK(reports[1].id == "b");
  CHECK(reports[1].lost == 4);
  CHECK(table.remove("b"));
  CHECK(table.finished_bursts(5'000).empty()); // each burst reported once
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

TEST_CASE("an expired peer that comes back resumes its line: what it sent meanwhile is lost") {
  PeerTable table;
  table.arrive("a", 0, 0);
  table.arrive("a", 1, 10);
  REQUIRE(table.expire(2'000, 1'000).size() == 1); // its cable was cut
  // Healed: its messages 2 to 99 went nowhere. Heard as a peer again at once.
  const auto back = table.arrive("a", 100, 5'000);
  CHECK(back.new_peer);
  CHECK_FALSE(back.stale);
  CHECK(back.lost == 0); // not trusted before its next message
  const auto next = table.arrive("a", 101, 5'010);
  CHECK(next.lost == 98);
  CHECK(next.burst_started);
  CHECK(table.find("a")->lost == 98);
  // A peer never seen before is no such case, nor one remembered no longer.
  CHECK(table.arrive("b", 100, 5'000).lost == 0);
  CHECK(table.arrive("b", 101, 5'010).lost == 0);
  for (std::size_t i = 0; i <= PeerTable::remembered; ++i)
    table.arrive("p" + std::to_string(i), 0, 6'000);
  table.arrive("a", 102, 6'000);
  REQUIRE(table.expire(9'000, 1'000).size() == PeerTable::remembered + 3);
  table.arrive("a", 200, 10'000);
  CHECK(table.arrive("a", 201, 10'010).lost == 0); // "a" expired first: forgotten
}

TEST_CASE("a hub given up for silent that comes back through another hub resumes its line") {
  PeerTable table;
  table.arrive("hub", 10, 0);
  REQUIRE(table.remove("hub")); // silent 400 ms: it was moving to the new hub
  table.arrive("hub", 15, 500); // heard again through the new hub, 4 messages later
  CHECK(table.arrive("hub", 16, 510).lost == 4);
}

TEST_CASE("after this node was away, every peer counts as just heard") {
  PeerTable table;
  table.arrive("a", 0, 0);
  table.heard_all(5'000);
  CHECK(table.expire(5'500, 1'000).empty());
  CHECK(table.expire(6'000, 1'000).size() == 1);
}

// The attacks of issue 10: one message under another sender's id with a number of the
// attacker's choosing, between two of the sender's own.

TEST_CASE("a forged number far ahead is played once, then the sender's line goes on: nothing is "
          "muted, nothing counted lost") {
  for (const std::uint64_t forged : {std::uint64_t{1} << 63, UINT64_MAX, std::uint64_t{1'005}}) {
    PeerTable table;
    for (std::uint64_t s = 0; s < 1'000; ++s)
      table.arrive("a", s, s);
    CHECK_FALSE(table.arrive("a", forged, 1'000).stale);
    const auto next = table.arrive("a", 1'000, 1'001);
    CHECK_FALSE(next.stale);
    CHECK(next.out_of_line);
    CHECK(next.lost == 0);
    for (std::uint64_t s = 1'001; s < 2'000; ++s)
      CHECK_FALSE(table.arrive("a", s, s + 1).stale);
    const auto& peer = *table.find("a");
    CHECK(peer.lost == 0);
    CHECK(peer.out_of_line == 1);
    CHECK(peer.resyncs == 0);
    CHECK(peer.received == 2'001);
  }
}

TEST_CASE("a forged number behind the line, beyond any replay, costs the sender nothing") {
  PeerTable table;
  for (std::uint64_t s = 100'000; s < 100'010; ++s)
    table.arrive("a", s, 0);
  CHECK_FALSE(table.arrive("a", 5, 1).stale);
  const auto next = table.arrive("a", 100'010, 2);
  CHECK_FALSE(next.stale);
  CHECK(next.out_of_line);
  CHECK_FALSE(next.resync);
  CHECK_FALSE(table.arrive("a", 100'011, 3).stale);
  CHECK(table.find("a")->lost == 0);
  CHECK(table.find("a")->resyncs == 0);
  CHECK(table.find("a")->out_of_line == 1);
}

TEST_CASE("two forged numbers in a row far ahead: a restart, undone by the sender's next two") {
  PeerTable table;
  table.arrive("a", 7, 0);
  table.arrive("a", UINT64_MAX - 1, 1);
  table.arrive("a", UINT64_MAX, 2);
  CHECK(table.arrive("a", UINT64_MAX, 3).stale);
  CHECK_FALSE(table.arrive("a", 8, 4).stale);
  const auto next = table.arrive("a", 9, 5);
  CHECK_FALSE(next.stale);
  CHECK(next.resync);
  const auto& peer = *table.find("a");
  CHECK(peer.lost == 0); // the gap to 2^64-2 was a restart, not a loss: no overflow either
  CHECK(peer.resyncs == 2);
}

TEST_CASE("two forged numbers in a row just ahead mute the sender for at most that distance") {
  PeerTable table;
  table.arrive("a", 0, 0);
  table.arrive("a", 50, 1);
  table.arrive("a", 51, 2);
  int muted = 0;
  for (std::uint64_t s = 1; s < 200; ++s)
    muted += table.arrive("a", s, s + 2).stale ? 1 : 0;
  CHECK(muted == 51);
}

TEST_CASE("a gap up to the limit is a loss; one beyond it is a restart with nothing lost") {
  PeerTable table(1'000, SequenceRule{4'096, 1'000});
  table.arrive("a", 0, 0);
  table.arrive("a", 1'001, 1);
  CHECK(table.arrive("a", 1'002, 2).lost == 1'000);
  table.arrive("a", 2'004, 3);
  const auto restart = table.arrive("a", 2'005, 4);
  CHECK(restart.lost == 0);
  CHECK(restart.resync);
  CHECK(restart.resync_from == 1'002);
  CHECK(restart.resync_to == 2'004);
  CHECK(table.find("a")->lost == 1'000);
}

TEST_CASE("a failover's replay is dropped as repeats, however it interleaves with a gap") {
  PeerTable table;
  for (std::uint64_t s = 0; s <= 4'990; ++s)
    table.arrive("a", s, 0);
  table.arrive("a", 5'200, 1); // the dying hub lost 4991..5199
  int played = 0;
  for (std::uint64_t s = 4'300; s <= 5'300; ++s) // the sender's replay through the new hub
    played += table.arrive("a", s, 2).stale ? 0 : 1;
  CHECK(played == 100);
  CHECK(table.find("a")->lost == 209);
  // A replay reaches back at most repeat_window numbers: still repeats there.
  CHECK(table.arrive("a", 5'300 - 4'095, 3).stale);
}

TEST_CASE("a restarted sender (same id, numbering from 0) is heard again at once") {
  PeerTable table;
  for (std::uint64_t s = 0; s < 10'000; ++s)
    table.arrive("a", s, 0);
  CHECK_FALSE(table.arrive("a", 0, 1).stale);
  const auto second = table.arrive("a", 1, 2);
  CHECK_FALSE(second.stale);
  CHECK(second.resync);
  CHECK(second.resync_to == 0);
  CHECK(table.find("a")->lost == 0);
}

TEST_CASE("counters saturate instead of wrapping") {
  using midimesh::node::saturating_add;
  CHECK(saturating_add(UINT64_MAX - 1, 5) == UINT64_MAX);
  CHECK(saturating_add(1, 2) == 3);
  PeerTable table(1'000, SequenceRule{4'096, UINT64_MAX});
  table.arrive("a", 0, 0);
  table.arrive("a", UINT64_MAX - 1, 1);
  table.arrive("a", UINT64_MAX, 2);
  CHECK(table.find("a")->lost == UINT64_MAX - 2);
  table.arrive("a", 0, 3); // far behind: a restart
  table.arrive("a", UINT64_MAX - 1, 4);
  table.arrive("a", UINT64_MAX, 5);
  CHECK(table.find("a")->lost == UINT64_MAX);
}
