#include "failover/hub_steering.hpp"

namespace midimesh::failover {

election::PeerState peer_state(const std::string& id, const wire::Hello& hello) {
  election::PeerState state;
  state.candidate = {id, hello.priority, hello.eligible, hello.forced};
  state.is_hub = hello.role == wire::Role::hub;
  state.hub_id = hello.hub;
  state.term = hello.term;
  return state;
}

HubSteering::HubSteering(SteeringConfig config) : config_(std::move(config)) {}

// An address zmq can connect to: IPv4 first (link-local IPv6 needs a scope zmq may not take).
// mDNS's first; when it has none for a node (its record not resolved yet, or only a stale one
// of an earlier run under the same name), the address the node announced in its hello.
const std::string* HubSteering::best_host(const Address& address) {
  for (const auto& h : address.hosts)
    if (h.find(':') == std::string::npos) return &h;
  if (!address.hosts.empty()) return &address.hosts.front();
  return address.announced.empty() ? nullptr : &address.announced;
}

void HubSteering::elect(const election::Candidate& self, std::uint64_t now_us, Actions& out) {
  election_.emplace(self, now_us, config_.timing);
  out.push_back(Announce{});
  steer(now_us, out);
}

std::uint64_t HubSteering::announced_term() const noexcept {
  return target_.empty() && election_ ? election_->highest_term() : term_;
}

std::uint64_t HubSteering::unanswered_count() const noexcept {
  return election_ ? election_->unanswered_count() : 0;
}

std::vector<ProxyAddress> HubSteering::proxies() const {
  std::vector<ProxyAddress> result;
  for (const auto& [id, address] : directory_) {
    const std::string* host = best_host(address);
    if (id == config_.self_id || !host || !address.port) continue;
    result.push_back({*host, address.port});
  }
  return result;
}

void HubSteering::steer(std::uint64_t now_us, Actions& out) {
  const election::Decision decision = election_->decide(now_us);
  report_unanswered(out);
  switch (decision.action) {
  case election::Decision::Action::become_hub:
    if (target_ != config_.self_id || term_ != decision.term)
      connect(config_.self_id, decision.term, true, now_us, out);
    break;
  case election::Decision::Action::follow:
    if (target_ != decision.hub_id || term_ != decision.term)
      connect(decision.hub_id, decision.term, true, now_us, out);
    break;
  case election::Decision::Action::wait:
    // Connect ahead to the node expected to claim: we hear its claim the moment it makes it.
    if (!decision.hub_id.empty() && target_ != decision.hub_id)
      connect(decision.hub_id, decision.term, false, now_us, out);
    break;
  }
  update_check(out);
}

void HubSteering::connect(const std::string& hub_id, std::uint64_t term, bool claimed,
                          std::uint64_t now_us, Actions& out) {
  if (hub_id == target_) { // only the term moved (a re-claim after a split brain)
    term_ = term;
    out.push_back(Announce{});
    return;
  }
  const bool hub_change = !target_.empty();
  if (hub_id == config_.self_id) {
    out.push_back(BecomeHub{term, now_us + config_.hub_timeout_us, hub_change});
  } else {
    auto it = directory_.find(hub_id);
    const std::string* host = it == directory_.end() ? nullptr : best_host(it->second);
    if (!host || !it->second.port) {
      if (wanted_ != hub_id) out.push_back(AwaitAddress{hub_id});
      wanted_ = hub_id;
      return;
    }
    out.push_back(Connect{hub_id, term, *host, it->second.port, claimed, hub_change});
    target_host_ = *host;
    target_claimed_ = claimed;
  }
  wanted_.clear();
  target_ = hub_id;
  term_ = term;
  heard_target_ = false;
  target_since_us_ = now_us;
}

void HubSteering::refuse(const std::string& id, std::string why, Actions& out) {
  const bool log = distrust_logged_.insert(id).second;
  out.push_back(Refuse{id, std::move(why), log, log && distrust_logged_.size() == 1});
}

void HubSteering::report_unanswered(Actions& out) {
  const std::uint64_t count = election_->unanswered_count();
  if (count == unanswered_reported_) return;
  unanswered_reported_ = count;
  for (const auto& [id, when] : election_->unanswered())
    if (!distrust_logged_.contains(id))
      refuse(id, "it did not answer through its own hub proxy in time", out);
}

void HubSteering::close_check(Actions& out) {
  if (!check_id_.empty()) out.push_back(CloseCheck{});
  check_id_.clear();
}

void HubSteering::update_check(Actions& out) {
  const std::string& id = election_->checking();
  // Connected ahead to it already (no working hub): the link itself is the check.
  if (id.empty() || id == target_) {
    close_check(out);
    return;
  }
  if (check_id_ == id) return;
  close_check(out);
  auto it = directory_.find(id);
  const std::string* host = it == directory_.end() ? nullptr : best_host(it->second);
  if (!host || !it->second.port) return; // checked once discovery says where it listens
  // A claim pointing at another node's proxy would be "answered" by whatever travels there
  // (the claimant's own forged hellos included): only the claimant's own proxy can answer.
  // A node gone from the election owns its old address no more: a node restarted on the same
  // computer binds the same port under a new id (the directory keeps every address it saw).
  for (const auto& [other, address] : directory_) {
    const std::string* other_host = best_host(address);
    if (other != id && election_->knows(other) && other_host && *other_host == *host &&
        address.port == it->second.port) {
      if (distrust_logged_.insert(id).second)
        out.push_back(SkipCheck{id, *host, it->second.port, other});
      return;
    }
  }
  out.push_back(OpenCheck{id, *host, it->second.port});
  check_id_ = id;
}

void HubSteering::on_hello(const std::string& id, const wire::Hello& hello, bool bridged,
                           std::uint64_t now_us, Actions& out) {
  lost_.erase(id);     // a node we gave up for gone (a cut cable) is back
  if (bridged) return; // in the peers' table, not in the election
  if (election_) {
    if (hello.role == wire::Role::hub && id != target_) {
      // An honest hub's hellos travel only through its own proxy, and this one came through
      // our hub's. A hub that just stepped down replays its last second into its new hub: a
      // rival we heard claim elsewhere is ignored without a fuss; anyone else forged it.
      if (!rivals_seen_.contains(id))
        refuse(id, "it claims the hub in a hello through another hub's proxy", out);
      return;
    }
    if (!election_->peer_seen(peer_state(id, hello), now_us)) {
      refuse(id, "term " + std::to_string(hello.term) + " is beyond any election", out);
      return;
    }
    if (hello.hub_port) directory_[id].port = hello.hub_port;
    if (!hello.address.empty()) directory_[id].announced = hello.address;
  }
  if (id == target_ && !heard_target_) {
    heard_target_ = true;
    out.push_back(ReleaseLink{});
  } else if (!election_ && hello.role == wire::Role::hub && target_.empty()) {
    target_ = id; // --connect: whoever runs the hub we were pointed at
    heard_target_ = true;
    out.push_back(HubAnswered{});
  }
  if (!election_ && id == target_) term_ = hello.term;
  if (election_) steer(now_us, out);
}

void HubSteering::on_beacon(const std::string& id, const wire::Hello& hello, std::uint64_t now_us,
                            Actions& out) {
  if (!election_ || id == config_.self_id) return;
  // Anyone can publish a beacon: its claim is checked at the claimant's own proxy first.
  if (!election_->peer_seen(peer_state(id, hello), now_us, election::Heard::second_hand)) {
    refuse(id, "term " + std::to_string(hello.term) + " is beyond any election", out);
    return;
  }
  if (id != target_ && rivals_seen_.insert(id).second)
    out.push_back(RivalHeard{id, hello.name, hello.term});
  lost_.erase(id);
  steer(now_us, out);
}

bool HubSteering::on_check_hello(const wire::Hello& hello, std::uint64_t now_us, Actions& out) {
  if (check_id_.empty() || hello.role != wire::Role::hub) return false;
  const std::string id = check_id_;
  if (!election_->peer_seen(peer_state(id, hello), now_us, election::Heard::first_hand)) {
    refuse(id, "term " + std::to_string(hello.term) + " is beyond any election", out);
    return false;
  }
  out.push_back(ClaimAnswered{id, hello.term});
  steer(now_us, out); // closes the check: the claim is checked
  return true;
}

bool HubSteering::on_record(const Sighting& sighting, bool on_mesh, std::uint64_t now_us,
                            Actions& out) {
  if (!election_ || sighting.id.empty() || sighting.id == config_.self_id) return false;
  Address& address = directory_[sighting.id];
  const bool first = address.hosts.empty();
  address.hosts = sighting.addresses;
  if (sighting.port) address.port = sighting.port;
  // mDNS may first give an address the hub cannot be reached at (::1 or a link-local IPv6
  // one, while it listens on IPv4 only or zmq cannot scope it) and the IPv4 one a moment
  // later. Until the hub has answered, move to the best address known: the first one would
  // never answer, and we would end up electing a rival hub.
  if (sighting.id == target_ && !heard_target_ && !is_hub()) {
    const std::string* host = best_host(address);
    if (host && *host != target_host_) {
      target_.clear(); // a fresh connection to the same node, not a change of hub
      connect(sighting.id, term_, target_claimed_, now_us, out);
    }
  }
  if (sighting.is_hub) rivals_seen_.insert(sighting.id);
  if (!on_mesh) {
    election::PeerState state;
    state.candidate = {sighting.id, sighting.priority, sighting.eligible, false};
    state.is_hub = sighting.is_hub;
    state.hub_id = sighting.hub_id;
    state.term = sighting.term;
    if (!lost_.contains(sighting.id) &&
        !election_->peer_seen(state, now_us, election::Heard::second_hand))
      refuse(sighting.id, "its mDNS record names term " + std::to_string(sighting.term), out);
  }
  steer(now_us, out); // a new claim, or the address of a hub we were waiting to reach
  return first;
}

void HubSteering::on_record_gone(const std::string& id, bool on_mesh, std::uint64_t now_us) {
  // A clean exit withdraws the service about a second after the goodbye on the mesh, which has
  // already been handled; for a node the mesh never heard, this is the only news. Its address
  // stays in the directory: mDNS caches disagree after restarts (a node's old record can
  // outlive its new one), and the mesh, not mDNS, says who is alive.
  if (!on_mesh && election_) election_->peer_lost(id, now_us);
}

void HubSteering::peer_lost(const std::string& id, const std::string& why, std::uint64_t now_us,
                            Actions& out) {
  out.push_back(Forget{id, election_ && id == target_});
  lost_.insert(id);
  out.push_back(ReleaseNotes{id, why});
  if (!election_) return;
  election_->peer_lost(id, now_us);
  if (id == target_) {
    target_.clear(); // the next decision connects somewhere else
    heard_target_ = false;
  }
  steer(now_us, out);
}

void HubSteering::peer_expired(const std::string& id, std::uint64_t now_us, Actions& out) {
  out.push_back(ReleaseNotes{id, "it went silent"});
  if (election_) election_->peer_lost(id, now_us);
}

Attention HubSteering::tick(std::uint64_t now_us, bool backlog,
                            std::optional<std::uint64_t> hub_heard_us, Actions& out) {
  const bool away = last_tick_us_ && now_us - last_tick_us_ > config_.peer_timeout_us;
  last_tick_us_ = now_us;
  if (away) return Attention::away;
  if (backlog) return Attention::behind;
  if (!election_ || target_.empty() || is_hub()) return Attention::listening;
  const std::uint64_t last = hub_heard_us && heard_target_ ? *hub_heard_us : target_since_us_;
  // A hub never heard gets the election's claim time; a hub that went silent, hub_timeout.
  const std::uint64_t limit =
      heard_target_ ? config_.hub_timeout_us : config_.timing.claim_timeout_us * 2;
  if (now_us < last + limit) return Attention::listening;
  out.push_back(HubSilent{target_, (now_us - last) / 1000});
  peer_lost(target_, "it went silent", now_us, out);
  return Attention::listening;
}

} // namespace midimesh::failover
