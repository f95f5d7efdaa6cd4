#pragma once
// Where failover is decided: which hub this node's link follows, and what to do when that hub
// goes silent, says goodbye, meets a rival or moves to a better address. Pure logic around the
// pure Election: the node tells it what it hears (hellos through its link, beacons and mDNS
// records second-hand, goodbyes, peers gone silent, the ticks of its loop) with the time, and
// it answers with actions (connect, hold back, release, release notes, announce, check a claim)
// that the node applies to its sockets. No sockets, no clock: tests drive it on simulated time.
//
// Every node binds its own hub proxy at start, so becoming hub is only a matter of pointing
// everyone's link at it: failover needs no bind, and its port is known in advance. A hub change
// releases no note: what the old hub swallowed comes again in its senders' replays (the link's
// connect resends its last second), and a loss the replay does not cover shows as a sequence
// gap, which releases that sender's notes. Only a sender that is gone has its notes released.

#include "election/election.hpp"
#include "wire/envelope.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace midimesh::failover {

// Connect the link to another node's hub proxy. The link's connect replays its last second and
// what it held into the new hub. claimed false: the node is expected to claim but has not yet;
// its proxy forwards to no one until then, so the link holds back what it sends until
// ReleaseLink. hub_change: it replaces a hub we followed (counted as a failover).
struct Connect {
  std::string hub_id;
  std::uint64_t term = 0;
  std::string host;
  std::uint16_t port = 0;
  bool claimed = true;
  bool hub_change = false;
};
// Point the link at our own proxy: we are hub at `term`. The proxy holds what it gets until the
// peers we know have attached, or hold_until_us: each resends what the old hub may have
// swallowed, and forwarded before all are there it would be lost for the late ones.
struct BecomeHub {
  std::uint64_t term = 0;
  std::uint64_t hold_until_us = 0;
  bool hub_change = false;
};
// The hub to follow is known, its address not yet: discovery will say (said once per hub).
struct AwaitAddress {
  std::string hub_id;
};
// Only the term moved (a re-claim after a split brain): re-announce the mDNS record.
struct Announce {};
// The hub we connected to said hello through its own proxy: it claimed and forwards to us all.
// Release what the link held back; the node has joined once its link is ready too.
struct ReleaseLink {};
// --connect: the hub at the address given answered; the node has joined once its link is ready.
struct HubAnswered {};
// The peer is gone: drop it from the peers' table (its notes follow in ReleaseNotes).
// our_hub: it was the hub we followed; the node is no longer joined.
struct Forget {
  std::string id;
  bool our_hub = false;
};
// Play note-offs for what `sender` left sounding; `why` finishes "because ...".
struct ReleaseNotes {
  std::string sender;
  std::string why;
};
// Our hub fell silent: say so before it is forgotten.
struct HubSilent {
  std::string id;
  std::uint64_t silent_ms = 0;
};
// A beacon from a hub we had not seen claim this mesh: two hubs are about to settle on one.
struct RivalHeard {
  std::string id;
  std::string name;
  std::uint64_t term = 0;
};
// A hub claim refused: count it; log a line only when `log` (the first refusal of this id),
// adding that further refusals are only counted unless `first` (the first id refused at all).
struct Refuse {
  std::string id;
  std::string why;
  bool log = false;
  bool first = false;
};
// Check a claim heard second-hand at the claimant's own proxy (ELECTION.md rule 1): a SUB
// beside the working link. CloseCheck ends it.
struct OpenCheck {
  std::string id;
  std::string host;
  std::uint16_t port = 0;
};
struct CloseCheck {};
// A claim pointing at another node's proxy (`owner`'s): only the claimant's own proxy can answer
// a check, so it is not checked (logged once per claimant).
struct SkipCheck {
  std::string id;
  std::string host;
  std::uint16_t port = 0;
  std::string owner;
};
// The claim being checked answered through its own proxy.
struct ClaimAnswered {
  std::string id;
  std::uint64_t term = 0;
};

using Action = std::variant<Connect, BecomeHub, AwaitAddress, Announce, ReleaseLink, HubAnswered,
                            Forget, ReleaseNotes, HubSilent, RivalHeard, Refuse, OpenCheck,
                            CloseCheck, SkipCheck, ClaimAnswered>;
using Actions = std::vector<Action>;

// Where a node's hub proxy listens.
struct ProxyAddress {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const ProxyAddress&) const = default;
};

// What an mDNS record says about a node, and where it resolved.
struct Sighting {
  std::string id;
  int priority = 0;
  bool eligible = true;
  bool is_hub = false;
  std::string hub_id;
  std::uint64_t term = 0;
  std::uint16_t port = 0;
  std::vector<std::string> addresses; // numeric, as mDNS gave them
};

// Whether the node was listening since its last tick. Silence is only the peers' fault if it
// was: not after this process was frozen (SIGSTOP, a suspended laptop), nor while messages still
// wait unread in its queue.
enum class Attention {
  listening,
  away,   // the loop did not turn for longer than a peer's timeout: every peer counts as heard
  behind, // messages wait unread: nobody is blamed this tick
};

struct SteeringConfig {
  std::string self_id;
  std::uint64_t hub_timeout_us = 400'000;    // a follower's hub silent this long is lost
  std::uint64_t peer_timeout_us = 1'500'000; // a tick this late means we were away
  election::Timing timing;
};

class HubSteering {
public:
  explicit HubSteering(SteeringConfig config);

  // Automatic and --hub modes: run the election from now on (else: --connect, following
  // whichever hub answers at the address given). The first decision follows.
  void elect(const election::Candidate& self, std::uint64_t now_us, Actions& out);
  bool electing() const noexcept { return election_.has_value(); }

  // A hello that came through our link (first-hand). bridged: a member a node speaks for.
  void on_hello(const std::string& id, const wire::Hello& hello, bool bridged, std::uint64_t now_us,
                Actions& out);
  // A hub's beacon that reached our proxy (second-hand: any one can send it).
  void on_beacon(const std::string& id, const wire::Hello& hello, std::uint64_t now_us,
                 Actions& out);
  // A hello heard on the proxy being checked (OpenCheck) from the claimant. True: the claim
  // answered (and the decision that follows is in `out`).
  bool on_check_hello(const wire::Hello& hello, std::uint64_t now_us, Actions& out);
  // An mDNS record appeared or changed. on_mesh: the mesh has told us about this node already
  // (mDNS caches outlive crashed nodes: hellos are the live source). Returns true when the node
  // had no mDNS address before (the node says it found it).
  bool on_record(const Sighting& sighting, bool on_mesh, std::uint64_t now_us, Actions& out);
  // An mDNS record was withdrawn (a clean exit; a crash is not reported).
  void on_record_gone(const std::string& id, bool on_mesh, std::uint64_t now_us);
  // A peer said goodbye (why: "it left"), or is otherwise known gone.
  void peer_lost(const std::string& id, const std::string& why, std::uint64_t now_us, Actions& out);
  // A peer the peers' table expired for silence (already out of the table).
  void peer_expired(const std::string& id, std::uint64_t now_us, Actions& out);
  // The loop's timer. backlog: messages wait unread on the link. hub_heard_us: when the hub we
  // follow was last heard, if the peers' table has it. When listening, a silent hub is lost
  // here; the node then expires its silent peers (peer_expired) and calls steer().
  Attention tick(std::uint64_t now_us, bool backlog, std::optional<std::uint64_t> hub_heard_us,
                 Actions& out);
  // Asks the election and follows its decision.
  void steer(std::uint64_t now_us, Actions& out);

  // The hub the link is connected to (empty: none), its term, and whether it is us.
  const std::string& hub() const noexcept { return target_; }
  std::uint64_t term() const noexcept { return term_; }
  bool is_hub() const noexcept { return !target_.empty() && target_ == config_.self_id; }
  // Its hello came through our link.
  bool heard_hub() const noexcept { return heard_target_; }
  // The address we connected to (another node's); empty for our own hub.
  const std::string& hub_host() const noexcept { return target_host_; }
  // The term our hello names: with no hub yet, the highest seen (the next election must move
  // past it).
  std::uint64_t announced_term() const noexcept;
  // The claim being checked (an OpenCheck not closed yet); empty: none.
  const std::string& checking() const noexcept { return check_id_; }
  std::uint64_t unanswered_count() const noexcept;
  // Every node's proxy ever discovered but ours, those given up for gone included: a hub's
  // beacon goes to all of them, since a cut cable heals.
  std::vector<ProxyAddress> proxies() const;

private:
  struct Address {
    std::vector<std::string> hosts; // from mDNS
    std::string announced;          // from its hello: where it reaches its hub from
    std::uint16_t port = 0;
  };
  static const std::string* best_host(const Address& address);

  void connect(const std::string& hub_id, std::uint64_t term, bool claimed, std::uint64_t now_us,
               Actions& out);
  void update_check(Actions& out);
  void close_check(Actions& out);
  void refuse(const std::string& id, std::string why, Actions& out);
  void report_unanswered(Actions& out);

  SteeringConfig config_;
  std::optional<election::Election> election_; // none with --connect
  std::map<std::string, Address> directory_;   // where each node's hub proxy listens
  std::string target_;                         // the hub our link is connected to (id)
  std::uint64_t term_ = 0;                     // that hub's term
  std::string target_host_;                    // the address we connected to (another node's)
  bool target_claimed_ = false;                // it had claimed then (else: connected ahead)
  bool heard_target_ = false;                  // its hello came through our link
  std::uint64_t target_since_us_ = 0;
  std::string wanted_;         // the hub we would connect to, address unknown
  std::set<std::string> lost_; // peers gone; mDNS may still show them
  // Hubs by their mDNS record or beacon: when one steps down, its link replays its last hub
  // hellos into ours, which is no forgery.
  std::set<std::string> rivals_seen_;
  std::string check_id_;
  std::set<std::string> distrust_logged_; // claimants whose refused claim was logged
  std::uint64_t unanswered_reported_ = 0;
  std::uint64_t last_tick_us_ = 0;
};

// What a peer's hello (or beacon) tells the election.
election::PeerState peer_state(const std::string& id, const wire::Hello& hello);

} // namespace midimesh::failover
