#include "election/election.hpp"

#include <algorithm>

namespace midimesh::election {

namespace {

// The one order every node uses, for hub claims (split brain) and for candidates (term 0):
// forced first; between two forced nodes the higher priority, then the smallest id (their terms
// say nothing about which --hub machine was meant, and ranking by them made two forced hubs
// race each other's terms); otherwise the higher term, then priority, then the smallest id.
bool outranks(const Candidate& a, std::uint64_t term_a, const Candidate& b, std::uint64_t term_b) {
  if (a.forced != b.forced) return a.forced;
  if (!a.forced && term_a != term_b) return term_a > term_b;
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.id < b.id;
}

} // namespace

Election::Election(Candidate self, std::uint64_t now_us, Timing timing)
    : self_(std::move(self)), timing_(timing), started_us_(now_us) {}

bool Election::peer_seen(const PeerState& peer, std::uint64_t /*now_us*/, Heard heard) {
  const std::string& id = peer.candidate.id;
  if (id == self_.id) return true; // our own announcement echoed back
  if (peer.term > max_term) {
    ++refused_count_;
    return false;
  }
  auto [it, inserted] = peers_.try_emplace(id, peer);
  // Forced is fixed for the life of an id; an mDNS record, which does not carry the flag, must
  // not flip the order of two forced hubs back and forth.
  const bool was_forced = !inserted && it->second.candidate.forced;
  it->second = peer;
  it->second.candidate.forced = peer.candidate.forced || was_forced;
  lost_.erase(id); // back after a partition
  if (peer.is_hub) {
    if (heard == Heard::first_hand) {
      answered_.insert(id);
      unanswered_.erase(id);
      check_started_.erase(id);
    }
    if (answered(id)) adopt_term(peer.term); // an unanswered claim's term moves nothing
  } else {
    // A report: at most one above what we know first-hand, so a forged report adds at most one.
    const std::uint64_t limit = anchored_ ? anchor_term_ + 1 : max_term;
    highest_term_seen_ = std::max(highest_term_seen_, std::min(peer.term, limit));
  }
  return true;
}

void Election::adopt_term(std::uint64_t term) {
  anchored_ = true;
  anchor_term_ = std::max(anchor_term_, term);
  highest_term_seen_ = std::max(highest_term_seen_, term);
}

void Election::peer_lost(const std::string& id, std::uint64_t /*now_us*/) {
  peers_.erase(id);
  passed_over_.erase(id);
  answered_.erase(id);
  unanswered_.erase(id); // back one day under the same id: checked afresh
  check_started_.erase(id);
  if (checking_id_ == id) checking_id_.clear();
  lost_.insert(id);
}

std::uint64_t Election::highest_term() const noexcept {
  return highest_term_seen_;
}

bool Election::is_hub() const noexcept {
  return current_ && current_->action == Decision::Action::become_hub;
}

PeerState Election::announcement() const {
  PeerState state{self_, false, {}, highest_term()};
  if (!current_ || current_->action == Decision::Action::wait) return state;
  state.is_hub = is_hub();
  state.hub_id = current_->hub_id;
  state.term = current_->term;
  return state;
}

Decision Election::decide(std::uint64_t now_us) {
  check_claims(now_us);
  const auto best_hub = best_hub_claim();
  if (self_.forced) {
    // Stand by behind a better forced hub: follow it, proxy ready, never re-claim meanwhile.
    const auto best_peer = best_hub_claim(false);
    if (best_peer && best_peer->candidate->forced &&
        outranks(*best_peer->candidate, best_peer->term, self_, 0))
      return settle({Decision::Action::follow, best_peer->candidate->id, best_peer->term});
    return settle(hold_hub(best_hub));
  }
  if (best_hub && best_hub->candidate == &self_) return settle(hold_hub(best_hub));
  // Sticky: any visible hub is followed, whoever else has joined.
  if (best_hub) return settle({Decision::Action::follow, best_hub->candidate->id, best_hub->term});
  // No working hub, but a claim being checked: connect ahead to it rather than elect a rival.
  if (!checking_id_.empty())
    return settle({Decision::Action::wait, checking_id_, peers_.at(checking_id_).term});
  if (now_us < started_us_ + timing_.discovery_grace_us) {
    forget_election(); // still discovering: a working hub may yet show up
    return settle({});
  }
  return settle(elect(now_us));
}

std::optional<Election::HubClaim> Election::best_hub_claim(bool include_self) const {
  std::optional<HubClaim> best;
  if (include_self && is_hub()) best = HubClaim{&self_, current_->term};
  for (const auto& [id, peer] : peers_) {
    if (!peer.is_hub || !answered(id)) continue;
    if (!best || outranks(peer.candidate, peer.term, *best->candidate, best->term))
      best = HubClaim{&peer.candidate, peer.term};
  }
  return best;
}

Decision Election::hold_hub(const std::optional<HubClaim>& best_hub) {
  const bool winning = best_hub && best_hub->candidate == &self_;
  if (is_hub()) {
    const auto term = current_->term;
    const bool rival_at_or_above = std::any_of(peers_.begin(), peers_.end(), [&](const auto& p) {
      return p.second.is_hub && answered(p.first) && p.second.term >= term;
    });
    // Re-claim above a rival we beat, so the surviving hub holds the highest term. A forced
    // hub that loses to another forced hub keeps its term: bumping would start a term race.
    if (!(winning && rival_at_or_above)) return *current_;
  }
  return {Decision::Action::become_hub, self_.id, highest_term() + 1};
}

const Candidate* Election::best_candidate() const {
  const Candidate* best = self_.eligible ? &self_ : nullptr;
  for (const auto& [id, peer] : peers_) {
    const Candidate& candidate = peer.candidate;
    if (!candidate.eligible || passed_over_.contains(id) || unanswered_.contains(id)) continue;
    if (!best || outranks(candidate, 0, *best, 0)) best = &candidate;
  }
  return best;
}

std::optional<Election::Expected> Election::unseen_hub() const {
  std::optional<Expected> best;
  for (const auto& [id, peer] : peers_) {
    const std::string& hub = peer.hub_id;
    if (peer.is_hub || hub.empty() || hub == self_.id || peers_.contains(hub) ||
        lost_.contains(hub) || passed_over_.contains(hub) || unanswered_.contains(hub))
      continue;
    if (!best || peer.term > best->term || (peer.term == best->term && hub < best->id))
      best = Expected{hub, peer.term};
  }
  return best;
}

bool Election::checkable(const std::string& id, std::uint64_t now_us) const {
  if (answered(id)) return false;
  const auto mark = unanswered_.find(id);
  return mark == unanswered_.end() || now_us >= mark->second + timing_.recheck_us;
}

std::optional<Election::HubClaim> Election::claim_to_check(const std::optional<HubClaim>& best,
                                                           std::uint64_t now_us) const {
  std::optional<HubClaim> pick;
  for (const auto& [id, peer] : peers_) {
    if (!peer.is_hub || !checkable(id, now_us)) continue;
    // Worth a check only if it would change what we do: no hub works, it outranks the one
    // that does, or (we are hub) its term reaches ours and would make us re-claim.
    const bool matters = !best ||
                         outranks(peer.candidate, peer.term, *best->candidate, best->term) ||
                         (is_hub() && peer.term >= current_->term);
    if (matters && (!pick || outranks(peer.candidate, peer.term, *pick->candidate, pick->term)))
      pick = HubClaim{&peer.candidate, peer.term};
  }
  return pick;
}

void Election::check_claims(std::uint64_t now_us) {
  for (;;) {
    const auto best = best_hub_claim();
    const auto claim = claim_to_check(best, now_us);
    if (!claim) {
      checking_id_.clear();
      return;
    }
    const std::uint64_t timeout_us = best ? timing_.check_timeout_us : timing_.claim_timeout_us;
    // A claimant that stops claiming and claims again keeps its check's clock: flapping
    // between hub and node cannot hold a check open for ever. A clock from a claim given up
    // long ago starts afresh.
    auto [started, fresh] = check_started_.try_emplace(claim->candidate->id, now_us);
    if (checking_id_ != claim->candidate->id) {
      checking_id_ = claim->candidate->id;
      if (!fresh && now_us > started->second + 2 * timeout_us) started->second = now_us;
    }
    const std::uint64_t deadline_us = started->second + timeout_us;
    if (now_us < deadline_us) return;
    unanswered_[checking_id_] = deadline_us;
    ++unanswered_count_;
    check_started_.erase(checking_id_);
    checking_id_.clear();
  }
}

Decision Election::elect(std::uint64_t now_us) {
  // The claim timeout of the next node waited for starts when the previous one was passed
  // over, so a late decide() skips the same nodes as timely ones would have.
  std::uint64_t clock_start_us = now_us;
  bool started_again = false;
  for (;;) {
    // Sticky: peers follow a hub we do not see yet (still discovering it): wait for it rather
    // than elect a rival, but no longer than a claim timeout.
    std::optional<Expected> expected = unseen_hub();
    if (!expected) {
      const Candidate* elected = best_candidate();
      if (elected == &self_) return {Decision::Action::become_hub, self_.id, highest_term() + 1};
      if (elected) expected = Expected{elected->id, highest_term() + 1};
    }
    if (!expected) {
      // Everyone we could wait for was passed over (we are not eligible ourselves): start the
      // round again from the best; it may have recovered.
      if (passed_over_.empty() || started_again) return {};
      passed_over_.clear();
      awaited_id_.clear();
      started_again = true;
      continue;
    }
    if (awaited_id_ != expected->id) {
      awaited_id_ = expected->id;
      awaited_since_us_ = clock_start_us;
    }
    const std::uint64_t deadline_us = awaited_since_us_ + timing_.claim_timeout_us;
    if (now_us < deadline_us) return {Decision::Action::wait, expected->id, expected->term};
    passed_over_[expected->id] = deadline_us;
    clock_start_us = deadline_us;
  }
}

Decision Election::settle(Decision decision) {
  if (decision.action != Decision::Action::wait) {
    forget_election(); // a hub is known: the next election starts afresh
    adopt_term(decision.term);
  }
  current_ = decision;
  return decision;
}

void Election::forget_election() {
  awaited_id_.clear();
  awaited_since_us_ = 0;
  passed_over_.clear();
}

} // namespace midimesh::election
