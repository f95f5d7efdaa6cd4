// Failover on simulated time: one node's HubSteering fed what its loop would hear (hellos
// through its link, beacons, mDNS records, goodbyes, ticks), checked by the exact actions it
// answers. No sockets, no sleeps.

#include "failover/hub_steering.hpp"

#include <catch2/catch.hpp>
#include <cstdio>

using namespace midimesh;
using namespace midimesh::failover;

namespace {

constexpr election::Timing timing{
    .discovery_grace_us = 1'000, .claim_timeout_us = 500, .recheck_us = 10'000};
constexpr std::uint64_t hub_timeout = 400;
constexpr std::uint64_t peer_timeout = 1'500;
constexpr std::uint16_t port = 5000;

std::string node_id(int n) {
  char id[17];
  std::snprintf(id, sizeof id, "%016x", n);
  return id;
}

// Host of node n's proxy, as its hello announces it.
std::string host_of(int n) {
  return "10.0.0." + std::to_string(n);
}

// One line per action, so a failing check shows the whole sequence.
std::string describe(const Action& action) {
  struct {
    std::string operator()(const Connect& c) const {
      return "connect " + c.hub_id + " term " + std::to_string(c.term) + " at " + c.host + ":" +
             std::to_string(c.port) + (c.claimed ? "" : " ahead") + (c.hub_change ? " change" : "");
    }
    std::string operator()(const BecomeHub& b) const {
      return "become hub term " + std::to_string(b.term) + " hold until " +
             std::to_string(b.hold_until_us) + (b.hub_change ? " change" : "");
    }
    std::string operator()(const AwaitAddress& a) const { return "await address of " + a.hub_id; }
    std::string operator()(const Announce&) const { return "announce"; }
    std::string operator()(const ReleaseLink&) const { return "release link"; }
    std::string operator()(const HubAnswered&) const { return "hub answered"; }
    std::string operator()(const Forget& f) const {
      return "forget " + f.id + (f.our_hub ? " (our hub)" : "");
    }
    std::string operator()(const ReleaseNotes& r) const {
      return "release notes of " + r.sender + ": " + r.why;
    }
    std::string operator()(const HubSilent& s) const {
      return "hub " + s.id + " silent " + std::to_string(s.silent_ms) + " ms";
    }
    std::string operator()(const RivalHeard& r) const {
      return "rival " + r.id + " term " + std::to_string(r.term);
    }
    std::string operator()(const Refuse& r) const {
      return "refuse " + r.id + ": " + r.why + (r.log ? " (logged)" : "") +
             (r.first ? " first" : "");
    }
    std::string operator()(const OpenCheck& o) const {
      return "check " + o.id + " at " + o.host + ":" + std::to_string(o.port);
    }
    std::string operator()(const CloseCheck&) const { return "close check"; }
    std::string operator()(const SkipCheck& s) const {
      return "skip check of " + s.id + " at " + s.host + " (" + s.owner + "'s)";
    }
    std::string operator()(const ClaimAnswered& a) const {
      return "claim of " + a.id + " answered, term " + std::to_string(a.term);
    }
  } visitor;
  return std::visit(visitor, action);
}

std::vector<std::string> lines(Actions& actions) {
  std::vector<std::string> result;
  for (const auto& a : actions)
    result.push_back(describe(a));
  actions.clear();
  return result;
}

using Lines = std::vector<std::string>;

wire::Hello hub_hello(std::uint64_t term, int n, int priority = 0) {
  wire::Hello h;
  h.name = "n" + std::to_string(n);
  h.role = wire::Role::hub;
  h.priority = priority;
  h.hub = node_id(n);
  h.term = term;
  h.hub_port = port;
  h.address = host_of(n);
  return h;
}

wire::Hello node_hello(int hub, std::uint64_t term, int n, int priority = 0) {
  wire::Hello h;
  h.name = "n" + std::to_string(n);
  h.priority = priority;
  h.hub = hub ? node_id(hub) : "";
  h.term = term;
  h.hub_port = port;
  h.address = host_of(n);
  return h;
}

Sighting record(int n, std::vector<std::string> addresses, bool is_hub = false,
                std::uint64_t term = 0) {
  Sighting s;
  s.id = node_id(n);
  s.is_hub = is_hub;
  s.hub_id = is_hub ? node_id(n) : "";
  s.term = term;
  s.port = port;
  s.addresses = std::move(addresses);
  return s;
}

// Node `self` of a mesh, with what it did so far.
struct Member {
  explicit Member(int self, int priority = 0)
      : steering({node_id(self), hub_timeout, peer_timeout, timing}) {
    steering.elect({node_id(self), priority}, 0, out);
  }
  HubSteering steering;
  Actions out;
};

// Node 2 following hub 1 (term 1), which it found by mDNS and which answered through its link;
// node 3 (priority 3 when `better_follower`) follows hub 1 too. Ends at time 2'000.
Member following_hub_1(bool better_follower = false) {
  Member m(2);
  m.steering.on_record(record(1, {host_of(1)}, true, 1), false, 100, m.out);
  m.steering.on_hello(node_id(1), hub_hello(1, 1), false, 200, m.out);
  m.steering.on_hello(node_id(3), node_hello(1, 1, 3, better_follower ? 3 : 0), false, 300, m.out);
  REQUIRE(lines(m.out) == Lines{"announce",
                                "connect " + node_id(1) + " term 1 at 10.0.0.1:5000 ahead",
                                "release link"});
  REQUIRE(m.steering.tick(2'000, false, 1'950, m.out) == Attention::listening);
  REQUIRE(m.out.empty());
  REQUIRE(m.steering.hub() == node_id(1));
  REQUIRE(m.steering.heard_hub());
  return m;
}

// Hub `rival` (term `term`, whose proxy the directory knows) sends its beacon to our proxy at
// `now`; its claim outranks ours, so it is checked at its proxy, answers, and the link moves to
// it: exactly one connect, and no note released (the list would show it).
void rival_wins(Member& m, int rival, std::uint64_t term, std::uint64_t now) {
  const std::string id = node_id(rival), t = std::to_string(term);
  const std::string at = host_of(rival) + ":" + std::to_string(port);
  m.steering.on_beacon(id, hub_hello(term, rival), now, m.out);
  CHECK(lines(m.out) == Lines{"rival " + id + " term " + t, "check " + id + " at " + at});
  CHECK(m.steering.on_check_hello(hub_hello(term, rival), now + 100, m.out));
  CHECK(lines(m.out) == Lines{"claim of " + id + " answered, term " + t,
                              "connect " + id + " term " + t + " at " + at + " change",
                              "close check"});
  CHECK(m.steering.hub() == id);
}

} // namespace

TEST_CASE("hub silence: the follower forgets its hub, releases only its notes and takes over") {
  auto m = following_hub_1();
  // Heard at 1'950: silent 399 us is not yet 400.
  CHECK(m.steering.tick(2'349, false, 1'950, m.out) == Attention::listening);
  CHECK(m.out.empty());
  CHECK(m.steering.tick(2'350, false, 1'950, m.out) == Attention::listening);
  // Node 2 has the smallest id left: it is hub at the next term, holding the proxy for a
  // hub_timeout while the others come over. Node 3's notes stay: it is alive.
  CHECK(lines(m.out) == Lines{"hub " + node_id(1) + " silent 0 ms",
                              "forget " + node_id(1) + " (our hub)",
                              "release notes of " + node_id(1) + ": it went silent",
                              "become hub term 2 hold until 2750"});
  CHECK(m.steering.is_hub());
  CHECK(m.steering.term() == 2);
}

TEST_CASE("hub silence: with a better follower left, the node connects ahead to it") {
  auto m = following_hub_1(true);
  CHECK(m.steering.tick(3'000, false, 1'950, m.out) == Attention::listening);
  CHECK(lines(m.out) == Lines{"hub " + node_id(1) + " silent 1 ms",
                              "forget " + node_id(1) + " (our hub)",
                              "release notes of " + node_id(1) + ": it went silent",
                              "connect " + node_id(3) + " term 2 at 10.0.0.3:5000 ahead"});
  // Node 3 claims: its hello through its own proxy releases what the link held back.
  m.steering.on_hello(node_id(3), hub_hello(2, 3, 3), false, 3'100, m.out);
  CHECK(lines(m.out) == Lines{"release link"});
  CHECK(m.steering.hub() == node_id(3));
}

TEST_CASE("hub silence: a hub connected ahead that never claims is given the claim time") {
  Member m(2);
  m.steering.on_record(record(1, {host_of(1)}, true, 1), false, 100, m.out);
  REQUIRE(lines(m.out) ==
          Lines{"announce", "connect " + node_id(1) + " term 1 at 10.0.0.1:5000 ahead"});
  // Never heard: 2 x claim_timeout from the connect, not hub_timeout.
  CHECK(m.steering.tick(1'099, false, std::nullopt, m.out) == Attention::listening);
  CHECK(m.out.empty());
  CHECK(m.steering.tick(1'100, false, std::nullopt, m.out) == Attention::listening);
  const Lines got = lines(m.out);
  REQUIRE(got.size() >= 3);
  CHECK(got[0] == "hub " + node_id(1) + " silent 1 ms");
  CHECK(got[1] == "forget " + node_id(1) + " (our hub)");
  CHECK(got[2] == "release notes of " + node_id(1) + ": it went silent");
}

TEST_CASE("goodbye: the hub's clean exit hands over at once; a follower's changes no hub") {
  SECTION("the hub leaves") {
    auto m = following_hub_1();
    m.steering.peer_lost(node_id(1), "it left", 2'010, m.out);
    CHECK(lines(m.out) == Lines{"forget " + node_id(1) + " (our hub)",
                                "release notes of " + node_id(1) + ": it left",
                                "become hub term 2 hold until 2410"});
  }
  SECTION("a follower leaves") {
    auto m = following_hub_1();
    m.steering.peer_lost(node_id(3), "it left", 2'010, m.out);
    CHECK(lines(m.out) ==
          Lines{"forget " + node_id(3), "release notes of " + node_id(3) + ": it left"});
    CHECK(m.steering.hub() == node_id(1));
    // Its record outlives it in mDNS caches: that does not bring it back.
    m.steering.on_record(record(3, {host_of(3)}), false, 2'020, m.out);
    CHECK(m.out.empty());
    // Its withdrawal a second later is old news.
    m.steering.on_record_gone(node_id(3), false, 3'000);
    m.steering.steer(3'000, m.out);
    CHECK(m.out.empty());
  }
}

TEST_CASE("two hubs meeting: a follower checks the better rival's claim and moves once") {
  auto m = following_hub_1();
  // Node 4's record is old (it was no hub then).
  m.steering.on_record(record(4, {host_of(4)}), false, 2'100, m.out);
  CHECK(m.out.empty());
  // Its beacon says it is hub at term 3; its own proxy answers: the higher term wins.
  rival_wins(m, 4, 3, 2'200);
  // Hub 1 steps down and replays its last hub hellos into hub 4: no forgery, nothing to do.
  m.steering.on_hello(node_id(1), hub_hello(1, 1), false, 2'400, m.out);
  CHECK(m.out.empty());
  m.steering.on_beacon(node_id(4), hub_hello(3, 4), 2'500, m.out);
  CHECK(m.out.empty());
}

TEST_CASE("two hubs meeting: a rival of a lower term is not followed") {
  auto m = following_hub_1();
  m.steering.on_hello(node_id(1), hub_hello(5, 1), false, 2'050, m.out); // hub 1 re-claimed at 5
  CHECK(lines(m.out) == Lines{"announce"});
  m.steering.on_record(record(4, {host_of(4)}), false, 2'100, m.out);
  m.steering.on_beacon(node_id(4), hub_hello(3, 4), 2'200, m.out);
  CHECK(lines(m.out) == Lines{"rival " + node_id(4) + " term 3"});
  CHECK(m.steering.hub() == node_id(1));
  CHECK(m.steering.term() == 5);
}

TEST_CASE("two hubs meeting: a hub steps down for a rival of a higher term") {
  Member m(2);
  m.steering.steer(1'000, m.out); // alone after the grace
  REQUIRE(lines(m.out) == Lines{"announce", "become hub term 1 hold until 1400"});
  m.steering.on_record(record(4, {host_of(4)}), false, 1'100, m.out);
  CHECK(m.out.empty());
  rival_wins(m, 4, 2, 1'200);
  CHECK_FALSE(m.steering.is_hub());
}

TEST_CASE("address changes: a better address before the hub answered reconnects; after, not") {
  Member m(2);
  // mDNS gives ::1 first: no IPv4 yet, so that is where the link goes.
  m.steering.on_record(record(1, {"::1"}, true, 1), false, 100, m.out);
  CHECK(lines(m.out) == Lines{"announce", "connect " + node_id(1) + " term 1 at ::1:5000 ahead"});
  // The IPv4 address arrives before the hub answered: a fresh connection, no hub change.
  m.steering.on_record(record(1, {"::1", "192.168.1.5"}, true, 1), false, 150, m.out);
  CHECK(lines(m.out) == Lines{"connect " + node_id(1) + " term 1 at 192.168.1.5:5000 ahead"});
  CHECK(m.steering.hub_host() == "192.168.1.5");
  m.steering.on_hello(node_id(1), hub_hello(1, 1), false, 200, m.out);
  CHECK(lines(m.out) == Lines{"release link"});
  // Once it answered, a new address changes nothing: the link works.
  m.steering.on_record(record(1, {"192.168.1.6"}, true, 1), false, 300, m.out);
  CHECK(m.out.empty());
  CHECK(m.steering.hub_host() == "192.168.1.5");
}

TEST_CASE("a hub that comes back: the cut-off hub is taken back as a follower, one hub stays") {
  // Node 1 was hub at term 1; its cable was cut, node 2 (this node) took over at term 2.
  auto m = following_hub_1();
  CHECK(m.steering.tick(2'350, false, 1'950, m.out) == Attention::listening);
  REQUIRE(lines(m.out).back() == "become hub term 2 hold until 2750");
  // The cable heals: hub 1's beacon (term 1) reaches our proxy. A lower term than ours: no
  // check, we stay hub.
  m.steering.on_beacon(node_id(1), hub_hello(1, 1), 3'000, m.out);
  CHECK(m.out.empty());
  CHECK(m.steering.is_hub());
  // It heard our beacon, checked us and follows: its hello comes through our proxy.
  m.steering.on_hello(node_id(1), node_hello(2, 2, 1), false, 3'100, m.out);
  CHECK(m.out.empty());
  CHECK(m.steering.is_hub());
  CHECK(m.steering.term() == 2);
  // Taken back: mDNS may show it again, and it counts as alive (its beacon endpoint too).
  CHECK(m.steering.proxies() == std::vector<ProxyAddress>{{host_of(1), port}, {host_of(3), port}});
}

TEST_CASE("a hub that comes back: the cut-off hub steps down for the new hub's higher term") {
  // This node (1) was hub at term 1; cut off, it expired its follower; node 2 became hub at 2.
  Member m(1);
  m.steering.steer(1'000, m.out);
  REQUIRE(lines(m.out) == Lines{"announce", "become hub term 1 hold until 1400"});
  m.steering.on_hello(node_id(2), node_hello(1, 1, 2), false, 1'100, m.out);
  CHECK(m.out.empty());
  m.steering.peer_expired(node_id(2), 3'000, m.out);
  CHECK(lines(m.out) == Lines{"release notes of " + node_id(2) + ": it went silent"});
  m.steering.steer(3'000, m.out);
  CHECK(m.out.empty()); // alone, still hub
  // Healed: node 2's beacon at term 2 reaches our proxy; its own proxy answers the check.
  rival_wins(m, 2, 2, 4'000);
}

TEST_CASE("a hub change releases no live player's notes, only a gone sender's") {
  auto m = following_hub_1();
  m.steering.on_record(record(4, {host_of(4)}), false, 2'100, m.out);
  rival_wins(m, 4, 3, 2'200); // node 3 and hub 1 are alive: none of their notes released
  // Node 3, a player, expires later: its notes, and only its, are released.
  m.steering.peer_expired(node_id(3), 4'000, m.out);
  CHECK(lines(m.out) == Lines{"release notes of " + node_id(3) + ": it went silent"});
}

TEST_CASE("being away: a tick after a long gap blames no one, nor does one with a backlog") {
  auto m = following_hub_1();
  // Frozen (SIGSTOP) for 5'000 us: the hub looks silent, but we were not listening.
  CHECK(m.steering.tick(7'000, false, 1'950, m.out) == Attention::away);
  CHECK(m.out.empty());
  // The node counted every peer as heard at 7'000; the next tick finds the hub fine.
  CHECK(m.steering.tick(7'100, false, 7'000, m.out) == Attention::listening);
  CHECK(m.out.empty());
  // Messages waiting unread: the hub may well be in them.
  CHECK(m.steering.tick(7'500, true, 7'000, m.out) == Attention::behind);
  CHECK(m.out.empty());
  // Read, and still nothing from the hub: now it is its fault.
  CHECK(m.steering.tick(7'600, false, 7'000, m.out) == Attention::listening);
  CHECK(lines(m.out).front() == "hub " + node_id(1) + " silent 0 ms");
}

TEST_CASE("refused claims: a hub hello through another hub's proxy is logged once, then counted") {
  auto m = following_hub_1();
  m.steering.on_hello(node_id(7), hub_hello(9, 7), false, 2'100, m.out);
  m.steering.on_hello(node_id(7), hub_hello(9, 7), false, 2'200, m.out);
  m.steering.on_hello(node_id(8), hub_hello(9, 8), false, 2'300, m.out);
  const std::string why = ": it claims the hub in a hello through another hub's proxy";
  CHECK(lines(m.out) == Lines{"refuse " + node_id(7) + why + " (logged) first",
                              "refuse " + node_id(7) + why,
                              "refuse " + node_id(8) + why + " (logged)"});
  CHECK(m.steering.hub() == node_id(1));
}

TEST_CASE("--connect: the hub at the given address is whoever answers, and its term is followed") {
  HubSteering steering({node_id(2), hub_timeout, peer_timeout, timing});
  Actions out;
  steering.on_hello(node_id(3), node_hello(1, 1, 3), false, 100, out);
  CHECK(out.empty());
  steering.on_hello(node_id(1), hub_hello(4, 1), false, 200, out);
  CHECK(lines(out) == Lines{"hub answered"});
  CHECK(steering.hub() == node_id(1));
  CHECK(steering.term() == 4);
  // Its goodbye: forgotten and released, but no election here: the link stays pointed at it.
  steering.peer_lost(node_id(1), "it left", 300, out);
  CHECK(lines(out) ==
        Lines{"forget " + node_id(1), "release notes of " + node_id(1) + ": it left"});
  CHECK(steering.hub() == node_id(1));
  // No election: a silent hub is the link's business (Node::check_link_alive).
  CHECK(steering.tick(5'000, false, std::nullopt, out) == Attention::listening);
  CHECK(out.empty());
}

TEST_CASE("a hub known only from its followers is awaited until discovery says where it is") {
  Member m(2);
  // Node 3 follows hub 5 (term 4), which this node has neither heard nor found by mDNS.
  m.steering.on_hello(node_id(3), node_hello(5, 4, 3), false, 100, m.out);
  CHECK(lines(m.out) == Lines{"announce"}); // the startup grace: listening
  m.steering.steer(1'000, m.out);
  CHECK(lines(m.out) == Lines{"await address of " + node_id(5)});
  m.steering.steer(1'100, m.out); // said once
  CHECK(m.out.empty());
  CHECK(m.steering.hub().empty());
  m.steering.on_record(record(5, {host_of(5)}, true, 4), false, 1'200, m.out);
  CHECK(lines(m.out) == Lines{"connect " + node_id(5) + " term 4 at 10.0.0.5:5000 ahead"});
}

TEST_CASE("a node restarted on the same computer: its claim is checked where its old id listened") {
  auto m = following_hub_1();
  // Node 5 runs on node 3's computer, at node 3's port: a second program there, or node 3
  // restarted under a new id. It claims the hub (term 3) by its beacon.
  const std::string at = host_of(3) + ":" + std::to_string(port);
  SECTION("while node 3 lives, the address is node 3's: not checked") {
    m.steering.on_record(record(5, {host_of(3)}), false, 2'100, m.out);
    CHECK(m.out.empty());
    m.steering.on_beacon(node_id(5), hub_hello(3, 5), 2'200, m.out);
    CHECK(lines(m.out) ==
          Lines{"rival " + node_id(5) + " term 3",
                "skip check of " + node_id(5) + " at " + host_of(3) + " (" + node_id(3) + "'s)"});
    CHECK(m.steering.hub() == node_id(1));
  }
  SECTION("once node 3 is gone (SIGKILL: silent, no goodbye), the claim is checked") {
    m.steering.peer_expired(node_id(3), 2'050, m.out);
    CHECK(lines(m.out) == Lines{"release notes of " + node_id(3) + ": it went silent"});
    m.steering.on_record(record(5, {host_of(3)}), false, 2'100, m.out);
    CHECK(m.out.empty());
    m.steering.on_beacon(node_id(5), hub_hello(3, 5), 2'200, m.out);
    CHECK(lines(m.out) ==
          Lines{"rival " + node_id(5) + " term 3", "check " + node_id(5) + " at " + at});
  }
}
