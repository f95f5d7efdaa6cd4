#include "node/peer_table.hpp"

namespace midimesh::node {

Arrival PeerTable::arrive(const std::string& id, std::uint64_t seq, std::uint64_t now_us) {
  Arrival arrival;
  auto [it, inserted] = peers_.try_emplace(id);
  Peer& peer = it->second;
  peer.last_heard_us = now_us;
  if (inserted) {
    // A peer is first heard mid-stream: what it sent before we joined is not a loss.
    peer.id = id;
    arrival.new_peer = true;
  } else if (seq < peer.next_seq) {
    arrival.stale = true;
    return arrival;
  } else if (seq > peer.next_seq) {
    arrival.lost = seq - peer.next_seq;
    arrival.burst_started = peer.burst_lost == 0;
    peer.lost += arrival.lost;
    peer.burst_lost += arrival.lost;
    peer.burst_last_us = now_us;
  }
  peer.next_seq = seq + 1;
  ++peer.received;
  return arrival;
}

Peer* PeerTable::find(const std::string& id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<Peer> PeerTable::expire(std::uint64_t now_us, std::uint64_t timeout_us) {
  std::vector<Peer> gone;
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (now_us >= it->second.last_heard_us + timeout_us) {
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
  return peers_.erase(id) > 0;
}

std::vector<BurstReport> PeerTable::finished_bursts(std::uint64_t now_us) {
  std::vector<BurstReport> reports;
  for (auto& [id, peer] : peers_) {
    if (peer.burst_lost > 0 && now_us >= peer.burst_last_us + quiet_us_) {
      reports.push_back({id, peer.name, peer.burst_lost});
      peer.burst_lost = 0;
    }
  }
  return reports;
}

} // namespace midimesh::node
