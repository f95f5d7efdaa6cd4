#pragma once
// Which node is the hub. Pure logic: it is told what the node sees (peers and their claims,
// peers lost, its own hub lost) with the time, and answers what this node should do. Every node
// with the same view reaches the same answer, so the mesh agrees without a vote.
// See ELECTION.md beside this file for the rules and the state machine.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace midimesh::election {

struct Candidate {
  std::string id;       // node id: 16 hex digits, unique per process start
  int priority = 0;     // higher is preferred (--priority)
  bool eligible = true; // false: never hub (--no-hub, observers)
  bool forced = false;  // --hub: always hub, whatever the others say
};

// What a peer says about itself (its hello on the mesh, or its mDNS record).
struct PeerState {
  Candidate candidate;
  bool is_hub = false;    // it runs a hub now
  std::string hub_id;     // the hub it follows (itself when is_hub); empty: none
  std::uint64_t term = 0; // the term of that hub; with no hub, the highest term it has seen
};

// How a peer's state reached us. A hub claim counts only first-hand: the claimant's hello came
// through its own proxy (our link's hub, or a check of its proxy). Beacons and mDNS records are
// second-hand: a claim heard that way is checked first (ELECTION.md rule 1).
enum class Heard { first_hand, second_hand };

// No mesh holds this many elections: a higher term is a forgery or a broken peer (rule 8).
inline constexpr std::uint64_t max_term = std::uint64_t{1} << 32;

struct Decision {
  enum class Action {
    wait,       // no hub known yet and it is not our turn: keep listening
    follow,     // be a member of hub_id's mesh
    become_hub, // start (or keep) our own hub, with this term
  };
  Action action = Action::wait;
  // follow: the hub; become_hub: ourselves; wait: the elected node expected to claim, with the
  // term it should claim (empty during the startup grace or with no candidate at all).
  std::string hub_id;
  std::uint64_t term = 0;
  bool operator==(const Decision&) const = default;
};

struct Timing {
  // After start, how long to listen for an existing hub before electing one: sticky, a node
  // joining mid-gig finds the working hub instead of taking over.
  std::uint64_t discovery_grace_us = 1'500'000;
  // How long the elected node may take to claim the hub before the next candidate stops
  // waiting for it (it may have died before it could).
  std::uint64_t claim_timeout_us = 1'000'000;
  // A check beside a working hub waits longer: nothing hangs on it, and its TCP connection may
  // need SYN retransmissions (after 1 s, then 3 s more) when a healed cable's neighbour entry
  // is stale. Given up too soon, the claim is not checked again for recheck_us, and a healed
  // split stays split that long (tools/chaos saw 11 s).
  std::uint64_t check_timeout_us = 4'500'000;
  // A claim that did not answer a check is not checked again before this: a forger repeating
  // its claim costs one connection attempt per recheck, not one per message.
  std::uint64_t recheck_us = 10'000'000;
};

class Election {
public:
  Election(Candidate self, std::uint64_t now_us, Timing timing = {});

  // A peer's current state (insert or update). False: refused (a term above max_term), nothing
  // of it was taken.
  bool peer_seen(const PeerState& peer, std::uint64_t now_us, Heard heard = Heard::first_hand);
  // The peer left or went silent: it no longer counts, as candidate or as hub.
  void peer_lost(const std::string& id, std::uint64_t now_us);
  // What this node should do now. Stable: the same view and time give the same decision.
  Decision decide(std::uint64_t now_us);

  const Candidate& self() const noexcept { return self_; }
  // The peer counts now (seen, and not lost since).
  bool knows(const std::string& id) const { return peers_.contains(id); }
  // The highest term seen anywhere, ours included.
  std::uint64_t highest_term() const noexcept;
  // The last decision; empty before the first decide().
  const std::optional<Decision>& current() const noexcept { return current_; }
  // What this node tells its peers (hello, mDNS record), from the last decision.
  PeerState announcement() const;
  // Candidates skipped for not claiming in time, with when: id -> time passed over (us).
  const std::map<std::string, std::uint64_t>& passed_over() const noexcept { return passed_over_; }
  // The hub claim the edge should check by connecting to the claimant's proxy (as of the last
  // decide()); empty: none.
  const std::string& checking() const noexcept { return checking_id_; }
  // Claims that were checked and did not answer in time: id -> when the check gave up (us).
  const std::map<std::string, std::uint64_t>& unanswered() const noexcept { return unanswered_; }
  std::uint64_t unanswered_count() const noexcept { return unanswered_count_; }
  std::uint64_t refused_count() const noexcept { return refused_count_; }

private:
  struct HubClaim {
    const Candidate* candidate;
    std::uint64_t term;
  };
  struct Expected { // the node we wait for to claim, and the term it should claim
    std::string id;
    std::uint64_t term;
  };

  bool is_hub() const noexcept;
  std::optional<HubClaim> best_hub_claim(bool include_self = true) const;
  bool answered(const std::string& id) const { return answered_.contains(id); }
  bool checkable(const std::string& id, std::uint64_t now_us) const;
  std::optional<HubClaim> claim_to_check(const std::optional<HubClaim>& best,
                                         std::uint64_t now_us) const;
  void check_claims(std::uint64_t now_us);
  void adopt_term(std::uint64_t term);
  const Candidate* best_candidate() const;
  std::optional<Expected> unseen_hub() const;
  Decision hold_hub(const std::optional<HubClaim>& best);
  Decision elect(std::uint64_t now_us);
  Decision settle(Decision decision);
  void forget_election();

  Candidate self_;
  Timing timing_;
  std::uint64_t started_us_;
  std::map<std::string, PeerState> peers_;
  std::optional<Decision> current_;     // what we do now (our own claim when hub)
  std::uint64_t highest_term_seen_ = 0; // survives peers being lost: terms only move forward
  // The node we wait for to claim (the elected one, or a hub only followers report), and since
  // when: the claim timeout runs from there.
  std::string awaited_id_;
  std::uint64_t awaited_since_us_ = 0;
  std::map<std::string, std::uint64_t> passed_over_;
  // Peers lost and not seen since: followers' late reports of them are no evidence of a hub.
  std::set<std::string> lost_;
  // Hub claims heard first-hand (they answered), and the highest term from those or our own
  // decisions: reports raise the floor at most one above it (rule 8).
  std::set<std::string> answered_;
  std::uint64_t anchor_term_ = 0;
  bool anchored_ = false;
  std::string checking_id_;
  std::map<std::string, std::uint64_t> check_started_; // claims checked, not yet decided
  std::map<std::string, std::uint64_t> unanswered_;
  std::uint64_t unanswered_count_ = 0, refused_count_ = 0;
};

} // namespace midimesh::election
