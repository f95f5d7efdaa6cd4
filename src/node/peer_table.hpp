#pragma once
// The peers this node hears on the mesh: who they are, whether they are still alive, and how
// many of their messages went missing. Pure code: time comes in as an argument.

#include "wire/envelope.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace midimesh::node {

struct Peer {
  std::string id;
  std::string name; // empty until its first hello
  wire::Role role = wire::Role::node;
  bool bridged = false; // a member a node speaks for (RTP-MIDI): no hub proxy, never a hub
  std::uint64_t next_seq = 0;
  std::uint64_t last_heard_us = 0;
  std::uint64_t received = 0;
  std::uint64_t lost = 0; // sequence gaps, in messages
  // The burst of losses being reported: counted from its first gap until it goes quiet.
  std::uint64_t burst_lost = 0;
  std::uint64_t burst_last_us = 0;
};

struct Arrival {
  bool new_peer = false;
  std::uint64_t lost = 0;     // messages skipped just before this one
  bool burst_started = false; // first loss since the peer's last burst ended: log it
  bool stale = false;         // an old or repeated sequence number: ignore the message
};

struct BurstReport {
  std::string id;
  std::string name;
  std::uint64_t lost = 0;
};

class PeerTable {
public:
  explicit PeerTable(std::uint64_t quiet_us = 1'000'000) : quiet_us_(quiet_us) {}

  Arrival arrive(const std::string& id, std::uint64_t seq, std::uint64_t now_us);
  // Returns the peer for its hello: name and role; nullptr if unknown.
  Peer* find(const std::string& id);
  const std::map<std::string, Peer>& peers() const noexcept { return peers_; }
  // Peers that are nodes themselves (not bridged members): those that attach to a hub.
  std::size_t nodes() const noexcept;
  // Removes and returns the peers not heard from for timeout_us.
  std::vector<Peer> expire(std::uint64_t now_us, std::uint64_t timeout_us);
  bool remove(const std::string& id);
  // Counts every peer as heard now: for when this node, not its peers, was silent.
  void heard_all(std::uint64_t now_us);
  // Bursts of loss that have gone quiet since their last gap: report and reset them.
  std::vector<BurstReport> finished_bursts(std::uint64_t now_us);

private:
  std::uint64_t quiet_us_;
  std::map<std::string, Peer> peers_;
};

} // namespace midimesh::node
