#include "node/peer_table.hpp"

#include <algorithm>
#include <utility>

namespace midimesh::node {

// The trust in the sender's numbering is the protocol's (wire/sequence_line); what is counted
// lost, and when a moved line is a restart rather than a gap, is this table's.
Arrival PeerTable::arrive(const std::string& id, std::uint64_t seq, std::uint64_t now_us) {
  Arrival arrival;
  auto [it, inserted] = peers_.try_emplace(id);
  Peer& peer = it->second;
  peer.last_heard_us = now_us;
  if (inserted) {
    peer.id = id;
    arrival.new_peer = true;
    const auto back = std::find_if(departed_.begin(), departed_.end(),
                                   [&id](const auto& d) { return d.first == id; });
    if (back == departed_.end()) {
      // A peer is first heard mid-stream: what it sent before we joined is not a loss.
      peer.numbering = wire::first_heard(seq);
      ++peer.received;
      return arrival;
    }
    peer.numbering = back->second; // back: the rule below counts what it sent meanwhile
    departed_.erase(back);
  }
  const wire::LineStep step = wire::advance(peer.numbering, seq, rule_);
  if (step.out_of_line) {
    peer.out_of_line = saturating_add(peer.out_of_line, 1);
    arrival.out_of_line = true;
  }
  if (step.moved) moved(peer, step.from, step.to, now_us, arrival);
  if (step.repeat) {
    arrival.stale = true;
    return arrival;
  }
  peer.received = saturating_add(peer.received, 1);
  return arrival;
}

void PeerTable::moved(Peer& peer, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                      Arrival& arrival) {
  const std::uint64_t gap = to > from ? to - from - 1 : 0;
  if (to < from || gap > rule_.max_gap) {
    arrival.resync = true;
    arrival.resync_from = from;
    arrival.resync_to = to;
    peer.resyncs = saturating_add(peer.resyncs, 1);
    return;
  }
  arrival.lost = gap;
  arrival.burst_started = peer.burst_lost == 0;
  peer.lost = saturating_add(peer.lost, gap);
  peer.burst_lost = saturating_add(peer.burst_lost, gap);
  peer.burst_last_us = now_us;
}

Peer* PeerTable::find(const std::string& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<Peer> PeerTable::expire(std::uint64_t now_us, std::uint64_t timeout_us) {
  std::vector<Peer> gone;
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (now_us >= it->second.last_heard_us + timeout_us) {
      remember(it->second);
      gone.push_back(std::move(it->second));
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

void PeerTable::heard_all(std::uint64_t now_us) {
  for (auto& [id, peer] : peers_)
    peer.last_heard_us = now_us;
}

std::size_t PeerTable::nodes() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, peer] : peers_)
    n += peer.bridged ? 0 : 1;
  return n;
}

bool PeerTable::remove(const std::string& id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return false;
  remember(it->second);
  peers_.erase(it);
  return true;
}

void PeerTable::remember(const Peer& peer) {
  if (peer.burst_lost > 0) departed_bursts_.push_back({peer.id, peer.name, peer.burst_lost});
  if (departed_.size() == remembered) departed_.erase(departed_.begin());
  departed_.emplace_back(peer.id, peer.numbering);
}

std::vector<BurstReport> PeerTable::finished_bursts(std::uint64_t now_us) {
  std::vector<BurstReport> reports = std::exchange(departed_bursts_, {});
  for (auto& [id, peer] : peers_) {
    if (peer.burst_lost > 0 && now_us >= peer.burst_last_us + quiet_us_) {
      reports.push_back({id, peer.name, peer.burst_lost});
      peer.burst_lost = 0;
    }
  }
  return reports;
}

} // namespace midimesh::node
