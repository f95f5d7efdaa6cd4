// The hub election on simulated time: every node gets its own Election fed the events it would
// see, and the tests check that they agree. No sockets, no sleeps.

#include "election/election.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>
#include <vector>

using namespace midimesh::election;
using Action = Decision::Action;

namespace Catch {
template <> struct StringMaker<Decision> {
  static std::string convert(const Decision& d) {
    static const char* const actions[] = {"wait", "follow", "become_hub"};
    return std::string("{") + actions[static_cast<int>(d.action)] + " " +
           (d.hub_id.empty() ? "-" : d.hub_id) + " term " + std::to_string(d.term) + "}";
  }
};
} // namespace Catch

namespace {

constexpr Timing timing{
    .discovery_grace_us = 1'000, .claim_timeout_us = 500, .check_timeout_us = 2'000};
constexpr std::uint64_t grace_over = timing.discovery_grace_us;
constexpr std::uint64_t claim_timeout = timing.claim_timeout_us;
constexpr std::uint64_t check_timeout = timing.check_timeout_us; // beside a working hub

std::string node_id(int n) {
  char id[17];
  std::snprintf(id, sizeof id, "%016x", n);
  return id;
}

Candidate node(int n, int priority = 0) {
  return {node_id(n), priority};
}
Candidate no_hub(int n, int priority = 0) {
  return {node_id(n), priority, false};
}
Candidate forced(int n, int priority = 0) {
  return {node_id(n), priority, true, true};
}

PeerState idle(const Candidate& c, std::uint64_t term = 0) {
  return {c, false, {}, term};
}
PeerState hub(const Candidate& c, std::uint64_t term) {
  return {c, true, c.id, term};
}
PeerState follower(const Candidate& c, const std::string& hub_id, std::uint64_t term) {
  return {c, false, hub_id, term};
}

Decision wait_for(const std::string& id, std::uint64_t term) {
  return {Action::wait, id, term};
}
Decision follow(const std::string& id, std::uint64_t term) {
  return {Action::follow, id, term};
}
Decision hub_at(const std::string& id, std::uint64_t term) {
  return {Action::become_hub, id, term};
}

// An Election already running a hub at `term`: it heard of term - 1 from a peer that left, then
// elected itself alone after the grace.
Election running_hub(const Candidate& c, std::uint64_t term) {
  Election election(c, 0, timing);
  election.peer_seen(idle(no_hub(9'999), term - 1), 0);
  election.peer_lost(node_id(9'999), 0);
  REQUIRE(election.decide(grace_over) == hub_at(c.id, term));
  return election;
}

// Feeds each election every other node's announcement, in the order given by `rng`.
void exchange(std::vector<Election>& nodes, std::uint64_t now, std::mt19937& rng) {
  std::vector<PeerState> said;
  for (const auto& n : nodes)
    said.push_back(n.announcement());
  for (auto& n : nodes) {
    std::shuffle(said.begin(), said.end(), rng);
    for (const auto& s : said)
      n.peer_seen(s, now);
  }
}

std::vector<Decision> decide_all(std::vector<Election>& nodes, std::uint64_t now) {
  std::vector<Decision> decisions;
  for (auto& n : nodes)
    decisions.push_back(n.decide(now));
  return decisions;
}

} // namespace

TEST_CASE("every node with the same view elects the same hub, whatever the order of events") {
  std::mt19937 rng(7);
  const std::vector<Candidate> mesh = {node(1, 2), node(2, 5), node(3, 5), no_hub(4, 9), node(5)};
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Election> nodes;
    for (const auto& c : mesh)
      nodes.emplace_back(c, 0, timing);
    exchange(nodes, 10, rng);

    // Priority 5 ties between nodes 2 and 3: the smaller id wins. Node 4 (priority 9) is --no-hub.
    auto decisions = decide_all(nodes, grace_over);
    for (std::size_t i = 0; i < nodes.size(); ++i)
      CHECK(decisions[i] == (i == 1 ? hub_at(node_id(2), 1) : wait_for(node_id(2), 1)));

    exchange(nodes, grace_over, rng);
    decisions = decide_all(nodes, grace_over + 1);
    for (std::size_t i = 0; i < nodes.size(); ++i)
      CHECK(decisions[i] == (i == 1 ? hub_at(node_id(2), 1) : follow(node_id(2), 1)));
  }
}

TEST_CASE("priority decides when no hub exists; equal priorities go to the smallest id") {
  Election low(node(1, 0), 0, timing);
  low.peer_seen(idle(node(2, 3)), 0);
  low.peer_seen(idle(node(3, 1)), 0);
  CHECK(low.decide(grace_over) == wait_for(node_id(2), 1));

  Election high(node(2, 3), 0, timing);
  high.peer_seen(idle(node(1, 0)), 0);
  high.peer_seen(idle(node(3, 1)), 0);
  CHECK(high.decide(grace_over) == hub_at(node_id(2), 1));

  Election tie_b(node(0xb, 1), 0, timing);
  tie_b.peer_seen(idle(node(0xa, 1)), 0);
  CHECK(tie_b.decide(grace_over) == wait_for(node_id(0xa), 1));
  Election tie_a(node(0xa, 1), 0, timing);
  tie_a.peer_seen(idle(node(0xb, 1)), 0);
  CHECK(tie_a.decide(grace_over) == hub_at(node_id(0xa), 1));
}

TEST_CASE("sticky: a better node joining follows the working hub, and the hub stays hub") {
  auto working = running_hub(node(5, 0), 3);
  Election newcomer(node(1, 100), 10'000, timing);

  // Joining before it has heard anyone: it listens through the grace instead of electing.
  CHECK(newcomer.decide(10'000) == Decision{});
  CHECK(newcomer.decide(10'000 + grace_over - 1) == Decision{});
  newcomer.peer_seen(working.announcement(), 10'500);
  CHECK(newcomer.decide(10'500) == follow(node_id(5), 3));
  CHECK(newcomer.decide(50'000) == follow(node_id(5), 3)); // after the grace too

  working.peer_seen(newcomer.announcement(), 10'600);
  CHECK(working.decide(10'600) == hub_at(node_id(5), 3));
  // Even a better node that says it follows no one changes nothing for a hub.
  working.peer_seen(idle(node(2, 50)), 10'700);
  CHECK(working.decide(10'700) == hub_at(node_id(5), 3));
}

TEST_CASE("sticky: a newcomer that sees the hub's followers before the hub waits for the hub") {
  Election newcomer(node(1, 100), 0, timing);
  newcomer.peer_seen(follower(node(2), node_id(5), 3), 100);
  CHECK(newcomer.decide(grace_over) == wait_for(node_id(5), 3));
  newcomer.peer_seen(hub(node(5), 3), grace_over + 100);
  CHECK(newcomer.decide(grace_over + 100) == follow(node_id(5), 3));
}

TEST_CASE("a hub reported only by followers is passed over if it never shows up") {
  Election newcomer(node(1, 100), 0, timing);
  newcomer.peer_seen(follower(node(2), node_id(5), 3), 100);
  CHECK(newcomer.decide(grace_over) == wait_for(node_id(5), 3));
  CHECK(newcomer.decide(grace_over + claim_timeout - 1) == wait_for(node_id(5), 3));
  CHECK(newcomer.decide(grace_over + claim_timeout) == hub_at(node_id(1), 4));
  CHECK(newcomer.passed_over().empty()); // forgotten once a hub is known
}

TEST_CASE("a node that is not eligible never becomes hub") {
  Election alone(no_hub(1, 100), 0, timing);
  CHECK(alone.decide(grace_over) == Decision{});
  CHECK(alone.decide(100 * grace_over) == Decision{});

  Election observer(no_hub(1, 100), 0, timing);
  observer.peer_seen(idle(node(2, 0)), 0);
  observer.peer_seen(idle(no_hub(3, 50)), 0);
  CHECK(observer.decide(grace_over) == wait_for(node_id(2), 1));

  Election eligible(node(2, 0), 0, timing);
  eligible.peer_seen(observer.announcement(), 0);
  eligible.peer_seen(idle(no_hub(3, 50)), 0);
  CHECK(eligible.decide(grace_over) == hub_at(node_id(2), 1));
}

TEST_CASE("a forced node is hub at once, and the hub it meets steps down") {
  auto working = running_hub(node(5, 100), 3);
  Election member(node(6), 0, timing);
  member.peer_seen(working.announcement(), 0);
  REQUIRE(member.decide(0) == follow(node_id(5), 3));

  Election forced_node(forced(9, 0), 20'000, timing);
  CHECK(forced_node.decide(20'000) == hub_at(node_id(9), 1)); // no grace: it heard nobody yet
  forced_node.peer_seen(working.announcement(), 20'010);
  forced_node.peer_seen(member.announcement(), 20'010);
  // It outranks the working hub, and re-claims above its term so terms only move forward.
  CHECK(forced_node.decide(20'010) == hub_at(node_id(9), 4));

  working.peer_seen(forced_node.announcement(), 20'020);
  CHECK(working.decide(20'020) == follow(node_id(9), 4));
  member.peer_seen(forced_node.announcement(), 20'020);
  CHECK(member.decide(20'020) == follow(node_id(9), 4));
  // And it keeps the hub whatever it sees afterwards.
  forced_node.peer_seen(hub(node(7, 1'000), 2), 20'030);
  CHECK(forced_node.decide(20'030) == hub_at(node_id(9), 4));
}

TEST_CASE("a forced node that sees a hub before claiming takes the next term") {
  Election forced_node(forced(9), 0, timing);
  forced_node.peer_seen(hub(node(5), 7), 0);
  CHECK(forced_node.decide(0) == hub_at(node_id(9), 8));
}

TEST_CASE("terms: each election takes the highest term seen plus one, and never goes back") {
  Election e(node(1), 0, timing);
  e.peer_seen(follower(node(2), node_id(7), 4), 0); // a follower's report raises the floor
  e.peer_seen(idle(node(3), 6), 0);                 // so does a node between hubs
  e.peer_lost(node_id(3), 0);                       // and the term outlives the peer
  e.peer_lost(node_id(2), 0);
  CHECK(e.highest_term() == 6);
  CHECK(e.decide(grace_over) == hub_at(node_id(1), 7));
  CHECK(e.announcement().term == 7);
  CHECK(e.announcement().is_hub);

  // A follower ignores a stale hub's lower term and stays with the current hub.
  Election member(node(4), 0, timing);
  member.peer_seen(hub(node(1), 7), 0);
  CHECK(member.decide(0) == follow(node_id(1), 7));
  member.peer_seen(hub(node(2, 100), 5), 10);
  CHECK(member.decide(10) == follow(node_id(1), 7));
  CHECK(member.highest_term() == 7);
}

TEST_CASE("split brain: both hubs and their followers agree on one winner") {
  struct Case {
    Candidate a;
    std::uint64_t term_a;
    Candidate b;
    std::uint64_t term_b;
    bool a_wins;
  };
  const auto [a, term_a, b, term_b, a_wins] = GENERATE(values<Case>({
      {node(1, 0), 5, node(2, 100), 4, true}, // higher term first
      {node(1, 0), 4, node(2, 100), 5, false},
      {node(1, 3), 2, node(2, 1), 2, true}, // same term: priority
      {node(1, 1), 2, node(2, 3), 2, false},
      {node(0xa, 1), 1, node(0xb, 1), 1, true}, // two started at once: smallest id
      {node(0xb, 1), 1, node(0xa, 1), 1, false},
      {forced(1, 0), 1, node(2, 100), 9, true}, // forced before everything
      {node(1, 100), 9, forced(2, 0), 1, false},
  }));
  auto hub_a = running_hub(a, term_a);
  auto hub_b = running_hub(b, term_b);
  Election follower_a(node(0x50), 0, timing);
  Election follower_b(node(0x60), 0, timing);
  follower_a.peer_seen(hub_a.announcement(), 0);
  follower_b.peer_seen(hub_b.announcement(), 0);
  REQUIRE(follower_a.decide(0).hub_id == a.id);
  REQUIRE(follower_b.decide(0).hub_id == b.id);

  // The partition heals: everyone now sees both hubs.
  const auto said_a = hub_a.announcement();
  const auto said_b = hub_b.announcement();
  hub_a.peer_seen(said_b, 100);
  hub_b.peer_seen(said_a, 100);
  follower_a.peer_seen(said_b, 100);
  follower_b.peer_seen(said_a, 100);

  const auto& winner = a_wins ? a : b;
  const auto winner_term = a_wins ? term_a : term_b;
  auto& winning_hub = a_wins ? hub_a : hub_b;
  auto& losing_hub = a_wins ? hub_b : hub_a;
  CHECK(losing_hub.decide(100) == follow(winner.id, winner_term)); // steps down at once
  CHECK(follower_a.decide(100) == follow(winner.id, winner_term));
  CHECK(follower_b.decide(100) == follow(winner.id, winner_term));
  const auto kept = winning_hub.decide(100);
  CHECK(kept.action == Action::become_hub);
  // A winner whose term a rival equals or exceeds re-claims above every term seen.
  const auto loser_term = a_wins ? term_b : term_a;
  CHECK(kept.term == (winner_term > loser_term ? winner_term : std::max(term_a, term_b) + 1));

  // The re-claim reaches everyone; all follow it.
  for (auto* e : {&losing_hub, &follower_a, &follower_b}) {
    e->peer_seen(winning_hub.announcement(), 200);
    CHECK(e->decide(200) == follow(winner.id, kept.term));
  }
}

TEST_CASE("hub lost: the followers elect the same successor among the peers left") {
  std::mt19937 rng(11);
  const std::vector<Candidate> mesh = {node(1, 1), node(2, 4), node(3, 4), no_hub(4, 9), node(6)};
  const Candidate lost_hub = node(5, 10);
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<Election> nodes;
    for (const auto& c : mesh) {
      nodes.emplace_back(c, 0, timing);
      nodes.back().peer_seen(hub(lost_hub, 3), 0);
      REQUIRE(nodes.back().decide(0) == follow(lost_hub.id, 3));
    }
    exchange(nodes, 10, rng);

    // Each loses the hub at its own moment among other events; the views end the same.
    for (auto& n : nodes) {
      std::vector<PeerState> said;
      for (const auto& other : nodes)
        said.push_back(other.announcement()); // still naming the lost hub
      said.push_back(hub(lost_hub, 3));       // its last word, before it went silent
      std::shuffle(said.begin(), said.end(), rng);
      for (const auto& s : said)
        n.peer_seen(s, 20);
      n.peer_lost(lost_hub.id, 30);
    }
    const std::uint64_t now = grace_over + 30;
    // Node 2 and 3 tie on priority 4 (node 4 with 9 is --no-hub): node 2 takes term 4.
    auto decisions = decide_all(nodes, now);
    for (std::size_t i = 0; i < nodes.size(); ++i)
      CHECK(decisions[i] == (i == 1 ? hub_at(node_id(2), 4) : wait_for(node_id(2), 4)));
    exchange(nodes, now, rng);
    decisions = decide_all(nodes, now + 10);
    for (std::size_t i = 0; i < nodes.size(); ++i)
      CHECK(decisions[i] == (i == 1 ? hub_at(node_id(2), 4) : follow(node_id(2), 4)));
  }
}

TEST_CASE("an elected node that never claims is passed over after the claim timeout") {
  // Node 1 is elected (priority 3) but is dead or stuck: it never claims.
  const auto silent = idle(node(1, 3));
  Election second(node(2, 2), 0, timing);
  Election third(node(3, 1), 0, timing);
  for (auto* e : {&second, &third}) {
    e->peer_seen(silent, 0);
    e->peer_seen(idle(node(2, 2)), 0);
    e->peer_seen(idle(node(3, 1)), 0);
  }
  CHECK(second.decide(grace_over) == wait_for(node_id(1), 1));
  CHECK(third.decide(grace_over + 100) == wait_for(node_id(1), 1));
  CHECK(second.decide(grace_over + claim_timeout - 1) == wait_for(node_id(1), 1));
  CHECK(second.decide(grace_over + claim_timeout) == hub_at(node_id(2), 1));
  CHECK(third.decide(grace_over + claim_timeout + 99) == wait_for(node_id(1), 1));
  CHECK(third.decide(grace_over + claim_timeout + 100) == wait_for(node_id(2), 1));
  CHECK(third.passed_over() ==
        std::map<std::string, std::uint64_t>{{node_id(1), grace_over + 100 + claim_timeout}});
  third.peer_seen(second.announcement(), grace_over + claim_timeout + 150);
  CHECK(third.decide(grace_over + claim_timeout + 150) == follow(node_id(2), 1));
  CHECK(third.passed_over().empty());

  // The passed-over node claims late: same term, better priority, so it wins; node 2 steps
  // down and the winner re-claims above the tied term.
  auto late = running_hub(node(1, 3), 1);
  late.peer_seen(second.announcement(), 3'000);
  CHECK(late.decide(3'000) == hub_at(node_id(1), 2));
  second.peer_seen(hub(node(1, 3), 1), 3'000);
  CHECK(second.decide(3'000) == follow(node_id(1), 1));
  second.peer_seen(late.announcement(), 3'100);
  CHECK(second.decide(3'100) == follow(node_id(1), 2));
}

TEST_CASE("a late decide() passes over several silent candidates as if called on time") {
  Election last(node(4, 0), 0, timing);
  for (int n = 1; n <= 3; ++n)
    last.peer_seen(idle(node(n, 10 - n)), 0);
  CHECK(last.decide(grace_over) == wait_for(node_id(1), 1));
  // Nodes 1 and 2 passed over at grace + 1 and 2 timeouts; node 3's wait began at the second.
  CHECK(last.decide(grace_over + 2 * claim_timeout + 1) == wait_for(node_id(3), 1));
  CHECK(last.passed_over() ==
        std::map<std::string, std::uint64_t>{{node_id(1), grace_over + claim_timeout},
                                             {node_id(2), grace_over + 2 * claim_timeout}});
  CHECK(last.decide(grace_over + 3 * claim_timeout) == hub_at(node_id(4), 1));
}

TEST_CASE("a node that is not eligible starts again once every candidate was passed over") {
  Election observer(no_hub(9), 0, timing);
  observer.peer_seen(idle(node(1, 2)), 0);
  observer.peer_seen(idle(node(2, 1)), 0);
  CHECK(observer.decide(grace_over) == wait_for(node_id(1), 1));
  CHECK(observer.decide(grace_over + claim_timeout) == wait_for(node_id(2), 1));
  CHECK(observer.decide(grace_over + 2 * claim_timeout) == wait_for(node_id(1), 1));
  CHECK(observer.decide(grace_over + 3 * claim_timeout - 1) == wait_for(node_id(1), 1));
}

TEST_CASE("a lost candidate is skipped at once, and a lost hub's stale reports are ignored") {
  Election e(node(3, 1), 0, timing);
  e.peer_seen(idle(node(1, 5)), 0);
  e.peer_seen(follower(node(2, 0), node_id(8), 2), 0); // still names hub 8, which we lost
  e.peer_lost(node_id(8), 0);
  CHECK(e.decide(grace_over) == wait_for(node_id(1), 3));
  e.peer_lost(node_id(1), grace_over + 1);
  CHECK(e.decide(grace_over + 1) == hub_at(node_id(3), 3));
}

TEST_CASE("startup grace: a node alone waits, then elects itself; a hub found meanwhile wins") {
  Election alone(node(1, 0), 5'000, timing);
  CHECK(alone.decide(5'000) == Decision{});
  CHECK(alone.decide(5'000 + grace_over - 1) == Decision{});
  CHECK(alone.decide(5'000 + grace_over) == hub_at(node_id(1), 1));

  Election joining(node(2, 100), 5'000, timing);
  CHECK(joining.decide(5'100) == Decision{});
  joining.peer_seen(alone.announcement(), 5'200);
  CHECK(joining.decide(5'200) == follow(node_id(1), 1)); // found before the grace ended
}

TEST_CASE("two nodes starting at the same instant converge") {
  std::mt19937 rng(3);
  SECTION("they hear each other during the grace: one claims, the other waits and follows") {
    std::vector<Election> nodes;
    nodes.emplace_back(node(0xb, 1), 0, timing);
    nodes.emplace_back(node(0xa, 1), 0, timing);
    exchange(nodes, 10, rng);
    auto d = decide_all(nodes, grace_over);
    CHECK(d[0] == wait_for(node_id(0xa), 1));
    CHECK(d[1] == hub_at(node_id(0xa), 1));
    exchange(nodes, grace_over, rng);
    d = decide_all(nodes, grace_over + 1);
    CHECK(d[0] == follow(node_id(0xa), 1));
    CHECK(d[1] == hub_at(node_id(0xa), 1));
  }
  SECTION("they hear each other only after both claimed: split brain, one steps down") {
    std::vector<Election> nodes;
    nodes.emplace_back(node(0xb, 1), 0, timing);
    nodes.emplace_back(node(0xa, 1), 0, timing);
    auto d = decide_all(nodes, grace_over);
    CHECK(d[0] == hub_at(node_id(0xb), 1));
    CHECK(d[1] == hub_at(node_id(0xa), 1));
    exchange(nodes, grace_over + 10, rng);
    d = decide_all(nodes, grace_over + 10);
    CHECK(d[0] == follow(node_id(0xa), 1));
    CHECK(d[1] == hub_at(node_id(0xa), 2));
    exchange(nodes, grace_over + 20, rng);
    d = decide_all(nodes, grace_over + 20);
    CHECK(d[0] == follow(node_id(0xa), 2));
    CHECK(d[1] == hub_at(node_id(0xa), 2));
  }
}

TEST_CASE("random views: every node of the view reaches the same hub") {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 2'000; ++trial) {
    const int size = std::uniform_int_distribution(2, 8)(rng);
    const int hub_count = std::uniform_int_distribution(0, std::min(3, size - 1))(rng);
    const auto floor_term = std::uniform_int_distribution<std::uint64_t>(0, 4)(rng);
    std::vector<Candidate> members;
    std::vector<std::uint64_t> hub_terms; // one per hub, the first hub_count members
    for (int i = 0; i < size; ++i) {
      Candidate c{node_id(std::uniform_int_distribution(1, 40)(rng) * 16 + i),
                  std::uniform_int_distribution(0, 3)(rng), rng() % 5 != 0, false};
      if (i < hub_count) {
        c.eligible = true;
        c.forced = i == 0 && rng() % 4 == 0; // two forced hubs never agree: at most one
        hub_terms.push_back(floor_term + std::uniform_int_distribution<std::uint64_t>(1, 3)(rng));
      }
      members.push_back(c);
    }

    std::vector<Election> elections;
    std::vector<PeerState> view;
    for (int i = 0; i < size; ++i) {
      if (i < hub_count) {
        elections.push_back(running_hub(members[i], hub_terms[i]));
        view.push_back(elections.back().announcement());
      } else {
        elections.emplace_back(members[i], 0, timing);
        view.push_back(hub_count > 0 ? follower(members[i], members[0].id, hub_terms[0])
                                     : idle(members[i], floor_term));
      }
    }
    // An observer that knew an older term, never a candidate; seen by all.
    view.push_back(idle(no_hub(0xfff), floor_term));

    std::vector<Decision> decisions;
    for (std::size_t i = 0; i < elections.size(); ++i) {
      auto& e = elections[i];
      std::shuffle(view.begin(), view.end(), rng);
      for (const auto& state : view)
        e.peer_seen(state, grace_over);
      // Noise that must not matter: a peer seen and lost again.
      e.peer_seen(idle(node(0xeee, 99)), grace_over);
      e.peer_lost(node_id(0xeee), grace_over);
      if (i >= static_cast<std::size_t>(hub_count)) e.peer_seen(view.front(), grace_over);
      decisions.push_back(e.decide(grace_over));
    }

    INFO("trial " << trial);
    const auto& agreed = decisions.back(); // a member that is not a hub, when there is one
    int hubs_left = 0;
    for (std::size_t i = 0; i < decisions.size(); ++i) {
      CHECK(decisions[i].hub_id == decisions.front().hub_id);
      if (decisions[i].action == Action::become_hub) {
        ++hubs_left;
        CHECK(decisions[i].term >= agreed.term);
        CHECK(elections[i].self().eligible);
      } else if (static_cast<int>(i) >= hub_count) {
        CHECK(decisions[i].term == agreed.term);
      }
    }
    CHECK(hubs_left <= 1);
  }
}

namespace {

// A mesh on simulated time: nodes start, die, partition and heal at random; each round every
// live node hears what the live nodes of its side announced last round, then decides.
struct Mesh {
  explicit Mesh(unsigned seed) : rng(seed) {}

  std::mt19937 rng;
  std::uint64_t now = 0;
  std::vector<Election> nodes;
  std::vector<bool> alive;
  std::vector<int> side; // nodes hear only nodes of their own side

  bool connected(std::size_t a, std::size_t b) const {
    return alive[a] && alive[b] && side[a] == side[b];
  }

  void start(const Candidate& c) {
    nodes.emplace_back(c, now, timing);
    alive.push_back(true);
    side.push_back(0);
  }

  void round() {
    std::vector<PeerState> said;
    for (const auto& n : nodes)
      said.push_back(n.announcement());
    std::vector<std::size_t> order(nodes.size());
    for (std::size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!alive[i]) continue;
      std::shuffle(order.begin(), order.end(), rng);
      for (auto j : order) {
        if (j == i) continue;
        if (connected(i, j))
          nodes[i].peer_seen(said[j], now);
        else
          nodes[i].peer_lost(nodes[j].self().id, now);
      }
      nodes[i].decide(now);
    }
    now += 100;
  }

  // True when exactly one live node is hub and every other live node follows it at its term.
  bool converged() const {
    std::optional<Decision> hub;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (alive[i] && nodes[i].current()->action == Action::become_hub) {
        if (hub) return false;
        hub = nodes[i].current();
      }
    if (!hub) return false;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (alive[i] && nodes[i].current()->action != Action::become_hub &&
          *nodes[i].current() != follow(hub->hub_id, hub->term))
        return false;
    return true;
  }
};

} // namespace

TEST_CASE("random mesh life: starts, deaths, partitions and heals always converge to one hub") {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    Mesh mesh(seed);
    int next_id = 1;
    auto random_candidate = [&] {
      return Candidate{node_id(next_id++), std::uniform_int_distribution(0, 3)(mesh.rng),
                       mesh.rng() % 6 != 0, false};
    };
    mesh.start(Candidate{node_id(next_id++), 0, true, false}); // at least one can be hub
    if (seed % 4 == 0) mesh.start(forced(next_id++));          // one --hub node (two never agree)
    for (int i = 0; i < 3; ++i)
      mesh.start(random_candidate());

    for (int step = 0; step < 60; ++step) {
      switch (mesh.rng() % 8) {
      case 0:
        mesh.start(random_candidate());
        break;
      case 1: { // a node dies (not the last eligible one: someone must be able to lead)
        const auto victim = mesh.rng() % mesh.nodes.size();
        int eligible_alive = 0;
        for (std::size_t i = 0; i < mesh.nodes.size(); ++i)
          eligible_alive += mesh.alive[i] && mesh.nodes[i].self().eligible;
        if (eligible_alive > 1 || !mesh.nodes[victim].self().eligible) mesh.alive[victim] = false;
        break;
      }
      case 2:
        mesh.side[mesh.rng() % mesh.nodes.size()] = 1;
        break; // partition
      case 3:
        std::fill(mesh.side.begin(), mesh.side.end(), 0);
        break; // heal
      default:
        break;
      }
      mesh.round();
    }

    // Heal for good and let it settle: the grace and a few claim timeouts are plenty.
    std::fill(mesh.side.begin(), mesh.side.end(), 0);
    int rounds = 0;
    while (!mesh.converged() && rounds < 100) {
      mesh.round();
      ++rounds;
    }
    INFO("seed " << seed);
    REQUIRE(mesh.converged());
    // Stays converged: nothing moves once agreed.
    const auto before = mesh.nodes;
    for (int i = 0; i < 5; ++i)
      mesh.round();
    CHECK(mesh.converged());
    for (std::size_t i = 0; i < mesh.nodes.size(); ++i)
      if (mesh.alive[i]) CHECK(*mesh.nodes[i].current() == *before[i].current());
  }
}

// --- Integrity: claims are checked, terms bounded, forced hubs settle (ELECTION.md rules 1, 4,
// 7, 8). A claim heard second-hand (a beacon, an mDNS record) counts once the edge heard the
// claimant answer through its own proxy: that answer is peer_seen(..., Heard::first_hand).

namespace {

constexpr auto second_hand = Heard::second_hand;
constexpr std::uint64_t recheck = timing.recheck_us;

// A follower of `working` (heard through its proxy, as our link's hub is).
Election member_of(const Election& working, int n) {
  Election member(node(n), 0, timing);
  member.peer_seen(working.announcement(), 0);
  REQUIRE(member.decide(0) == follow(working.self().id, working.announcement().term));
  return member;
}

} // namespace

TEST_CASE("two forced hubs settle on one by priority then id; the other stands by") {
  const auto [a, b, a_wins] = GENERATE(values<std::tuple<Candidate, Candidate, bool>>({
      {forced(0xa), forced(0xb), true},        // same priority: the smaller id
      {forced(0xa, 1), forced(0xb, 5), false}, // priority before id
  }));
  Election hub_a(a, 0, timing);
  Election hub_b(b, 0, timing);
  REQUIRE(hub_a.decide(0) == hub_at(a.id, 1));
  REQUIRE(hub_b.decide(10) == hub_at(b.id, 1));
  Election on_a = member_of(hub_a, 0x50);
  Election on_b = member_of(hub_b, 0x60);
  auto& winner = a_wins ? hub_a : hub_b;
  auto& loser = a_wins ? hub_b : hub_a;
  auto& moving = a_wins ? on_b : on_a; // the follower that has to change hub
  auto& staying = a_wins ? on_a : on_b;

  // They meet by beacon: second-hand claims, checked before anyone moves.
  const auto said_a = hub_a.announcement(), said_b = hub_b.announcement();
  for (auto* e : {&hub_a, &on_a})
    e->peer_seen(said_b, 100, second_hand);
  for (auto* e : {&hub_b, &on_b})
    e->peer_seen(said_a, 100, second_hand);
  CHECK(loser.decide(100).action == Action::become_hub); // not yet answered: nothing moves
  CHECK(loser.checking() == winner.self().id);
  CHECK(moving.decide(100) == follow(loser.self().id, 1));
  CHECK(moving.checking() == winner.self().id);
  CHECK(staying.decide(100) == follow(winner.self().id, 1));
  CHECK(staying.checking().empty()); // a worse claim is not worth a connection

  // The winner checks the loser too (its term reaches ours): once answered it re-claims once.
  CHECK(winner.decide(100) == hub_at(winner.self().id, 1));
  CHECK(winner.checking() == loser.self().id);
  winner.peer_seen(loser.announcement(), 150);
  CHECK(winner.decide(150) == hub_at(winner.self().id, 2));

  // The winner answers the checks: the loser stands by, its follower moves, once.
  for (auto* e : {&loser, &moving}) {
    e->peer_seen(winner.announcement(), 200);
    CHECK(e->decide(200) == follow(winner.self().id, 2));
  }
  // From then on nothing moves and the terms stay put, however long they all run.
  for (std::uint64_t t = 300; t < 300 + 20 * recheck; t += 25'000) { // 4 turns a heartbeat
    for (auto* e : {&loser, &moving, &staying})
      e->peer_seen(winner.announcement(), t, second_hand);
    staying.peer_seen(loser.announcement(), t);
    moving.peer_seen(loser.announcement(), t);
    winner.peer_seen(loser.announcement(), t);
    REQUIRE(winner.decide(t) == hub_at(winner.self().id, 2));
    REQUIRE(loser.decide(t) == follow(winner.self().id, 2));
    REQUIRE(moving.decide(t) == follow(winner.self().id, 2));
    REQUIRE(staying.decide(t).hub_id == winner.self().id);
  }
  // An mDNS record does not carry `forced`: the standby still ranks as forced.
  auto record = loser.announcement();
  record.candidate.forced = false;
  staying.peer_seen(record, 6'000'000, second_hand);
  CHECK(staying.decide(6'000'000).hub_id == winner.self().id);

  // The winner is lost: the standby is hub again at once, the next term.
  loser.peer_lost(winner.self().id, 7'000'000);
  CHECK(loser.decide(7'000'000) == hub_at(loser.self().id, 3));
}

TEST_CASE("a forged forced claim that never answers moves no one, and is counted") {
  auto working = running_hub(node(5, 10), 3);
  Election member = member_of(working, 6);
  const PeerState forged = hub(forced(0x66, 100), 4);
  for (auto* e : {&working, &member})
    CHECK(e->peer_seen(forged, 1'000, second_hand));
  CHECK(working.decide(1'000) == hub_at(node_id(5), 3));
  CHECK(member.decide(1'000) == follow(node_id(5), 3));
  CHECK(member.checking() == node_id(0x66));
  CHECK(member.highest_term() == 3); // an unanswered claim's term moves nothing
  // It repeats its claim; it never answers. Checked beside a working hub: check_timeout.
  CHECK(member.decide(1'000 + check_timeout - 1) == follow(node_id(5), 3));
  member.peer_seen(forged, 1'000 + check_timeout, second_hand);
  CHECK(member.decide(1'000 + check_timeout) == follow(node_id(5), 3));
  CHECK(member.checking().empty());
  CHECK(member.unanswered_count() == 1);
  CHECK(working.decide(1'000 + check_timeout) == hub_at(node_id(5), 3));
  CHECK(working.unanswered_count() == 1);
  // Checked again only after the recheck time, and counted again when it fails again.
  CHECK(member.decide(1'000 + check_timeout + recheck - 1).hub_id == node_id(5));
  CHECK(member.checking().empty());
  CHECK(member.decide(1'000 + check_timeout + recheck).hub_id == node_id(5));
  CHECK(member.checking() == node_id(0x66));
  CHECK(member.decide(1'000 + 2 * check_timeout + recheck) == follow(node_id(5), 3));
  CHECK(member.unanswered_count() == 2);

  // The working hub dies: the forger, forced or not, is neither elected nor waited for.
  member.peer_lost(node_id(5), 20'000);
  CHECK(member.decide(20'000) == hub_at(node_id(6), 4));
}

TEST_CASE("a forced hub that really answers takes over from a working hub") {
  auto working = running_hub(node(5, 10), 3);
  Election member = member_of(working, 6);
  Election newcomer(forced(9), 1'000, timing);
  REQUIRE(newcomer.decide(1'000) == hub_at(node_id(9), 1));
  newcomer.peer_seen(working.announcement(), 1'010, second_hand);
  CHECK(newcomer.checking() == std::string{}); // before decide(): nothing asked yet
  CHECK(newcomer.decide(1'010) == hub_at(node_id(9), 1));
  newcomer.peer_seen(working.announcement(), 1'020); // answered: its term 3 reaches ours
  CHECK(newcomer.decide(1'020) == hub_at(node_id(9), 4));
  member.peer_seen(newcomer.announcement(), 1'030, second_hand);
  CHECK(member.decide(1'030) == follow(node_id(5), 3));
  member.peer_seen(newcomer.announcement(), 1'040); // its proxy answered the check
  CHECK(member.decide(1'040) == follow(node_id(9), 4));
}

TEST_CASE("a term no mesh reaches is refused whole; reports add at most one to what is known") {
  auto working = running_hub(node(5), 3);
  Election member = member_of(working, 6);
  for (const PeerState& forged :
       {hub(forced(0x66), std::uint64_t{1} << 62), hub(node(0x67), ~std::uint64_t{0}),
        idle(node(0x68), std::uint64_t{1} << 62)}) {
    for (auto* e : {&working, &member}) {
      CHECK_FALSE(e->peer_seen(forged, 1'000)); // even first-hand
      CHECK_FALSE(e->peer_seen(forged, 1'000, second_hand));
    }
  }
  CHECK(member.refused_count() == 6);
  CHECK(working.refused_count() == 6);
  CHECK(member.decide(1'000) == follow(node_id(5), 3));
  CHECK(working.decide(1'000) == hub_at(node_id(5), 3));
  CHECK(member.highest_term() == 3);
  CHECK(member.checking().empty());

  // A report of a term far above the hub's adds one, however often it is repeated.
  for (int i = 0; i < 10; ++i)
    member.peer_seen(follower(node(0x69), node_id(0x70), 1'000'000), 2'000 + i);
  CHECK(member.highest_term() == 4);
  CHECK(member.decide(3'000) == follow(node_id(5), 3));
  member.peer_lost(node_id(5), 4'000);
  member.peer_lost(node_id(0x69), 4'000);
  CHECK(member.decide(4'000) == hub_at(node_id(6), 5));
}

TEST_CASE(
    "a claim that never answers, with no working hub: waited for a claim timeout, then passed") {
  Election newcomer(node(1), 0, timing);
  newcomer.peer_seen(idle(node(2)), 0);
  newcomer.peer_seen(hub(forced(0x66), 7), 10, second_hand); // an mDNS record or a beacon
  CHECK(newcomer.decide(10) == wait_for(node_id(0x66), 7));  // connect ahead, during the grace too
  CHECK(newcomer.decide(10 + claim_timeout - 1) == wait_for(node_id(0x66), 7));
  CHECK(newcomer.decide(10 + claim_timeout) == Decision{}); // still in the grace
  CHECK(newcomer.decide(grace_over) == hub_at(node_id(1), 1));
  CHECK(newcomer.unanswered_count() == 1);

  // The same claim answered in time: followed.
  Election other(node(1), 0, timing);
  other.peer_seen(hub(node(0x66), 7), 10, second_hand);
  CHECK(other.decide(10) == wait_for(node_id(0x66), 7));
  other.peer_seen(hub(node(0x66), 7), 20); // its hello came through its proxy
  CHECK(other.decide(20) == follow(node_id(0x66), 7));
}

TEST_CASE("a claimant flapping between hub and node cannot hold its check open for ever") {
  auto working = running_hub(node(5, 10), 3);
  Election member = member_of(working, 6);
  const PeerState claim = hub(forced(0x66), 4), plain = idle(forced(0x66), 4);
  // Every half second: its hello says node (first-hand), its beacon says hub (second-hand).
  std::uint64_t t = 1'000;
  for (; t < 1'000 + 2 * check_timeout; t += 500) {
    member.peer_seen(plain, t);
    member.decide(t);
    member.peer_seen(claim, t, second_hand);
    member.decide(t);
    if (member.unanswered_count() > 0) break;
  }
  CHECK(member.unanswered_count() == 1);
  CHECK(t >= 1'000 + check_timeout);
  CHECK(t < 1'000 + check_timeout + 500);
  CHECK(member.decide(t) == follow(node_id(5), 3));
}
