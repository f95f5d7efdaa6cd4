#pragma once
// The peers this node hears on the mesh: who they are, whether they are still alive, and how
// many of their messages went missing. Pure code: time comes in as an argument.
//
// Sequence numbers are not authenticated on an open mesh: anyone can put any number under any
// id. The rule below (PROTOCOL.md section 2, "Sequence numbers") trusts a sender's numbering only
// as far as the order its own connection delivers confirms it, so that one stray or forged
// number can neither mute the sender nor make its counters run backwards.

#include "wire/envelope.hpp"
#include "wire/sequence_line.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace midimesh::node {

using wire::SequenceRule;

struct Peer {
  std::string id;
  std::string name; // empty until its first hello
  wire::Role role = wire::Role::node;
  bool bridged = false;         // a member a node speaks for (RTP-MIDI): no hub proxy, never a hub
  bool foreign_mesh = false;    // its last hello named another mesh: its messages are not played
  wire::SequenceLine numbering; // its line, and a number off the line not yet confirmed
  std::uint64_t last_heard_us = 0;
  std::uint64_t received = 0;
  std::uint64_t lost = 0;        // sequence gaps, in messages (saturating)
  std::uint64_t resyncs = 0;     // numbering restarts: far behind, or too far ahead to be a loss
  std::uint64_t out_of_line = 0; // numbers off the line that the sender's next one disowned
  // The burst of losses being reported: counted from its first gap until it goes quiet.
  std::uint64_t burst_lost = 0;
  std::uint64_t burst_last_us = 0;
};

struct Arrival {
  bool new_peer = false;
  std::uint64_t lost = 0;     // messages confirmed lost just now (a gap the next message kept)
  bool burst_started = false; // first loss since the peer's last burst ended: log it
  bool stale = false;         // a repeated number: ignore the message
  bool out_of_line = false;   // the previous message's number was not the sender's: not counted
  // The numbering restarted (confirmed by this message): the line moved from `resync_from` to
  // `resync_to` with nothing counted lost.
  bool resync = false;
  std::uint64_t resync_from = 0, resync_to = 0;
};

struct BurstReport {
  std::string id;
  std::string name;
  std::uint64_t lost = 0;
};

// a + b, held at the largest value instead of wrapping: a counter never goes backwards.
constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

class PeerTable {
public:
  explicit PeerTable(std::uint64_t quiet_us = 1'000'000, SequenceRule rule = {})
      : quiet_us_(quiet_us), rule_(rule) {}

  // A numbered message from `id` (every type but hub_beacon and status).
  Arrival arrive(const std::string& id, std::uint64_t seq, std::uint64_t now_us);
  // Returns the peer for its hello: name and role; nullptr if unknown.
  Peer* find(const std::string& id);
  const std::map<std::string, Peer>& peers() const noexcept { return peers_; }
  // Peers that are nodes themselves (not bridged members): those that attach to a hub.
  std::size_t nodes() const noexcept;
  // Removes and returns the peers not heard from for timeout_us. The numbering of a peer
  // expired or removed is kept (the last `remembered` of them): one that comes back (a cable
  // healed, a laptop woke up, a hub given up for silent that was only moving to another hub)
  // resumes its line, and what it sent meanwhile is counted lost.
  std::vector<Peer> expire(std::uint64_t now_us, std::uint64_t timeout_us);
  static constexpr std::size_t remembered = 256;
  bool remove(const std::string& id);
  // Counts every peer as heard now: for when this node, not its peers, was silent.
  void heard_all(std::uint64_t now_us);
  // Bursts of loss that have gone quiet since their last gap, or whose peer expired or was
  // removed meanwhile: report and reset them.
  std::vector<BurstReport> finished_bursts(std::uint64_t now_us);

private:
  void remember(const Peer& peer);
  void moved(Peer& peer, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
             Arrival& arrival);

  std::uint64_t quiet_us_;
  SequenceRule rule_;
  std::map<std::string, Peer> peers_;
  // Departed peers' lines, oldest first.
  std::vector<std::pair<std::string, wire::SequenceLine>> departed_;
  // Bursts of departed peers, not reported yet: a sender that falls silent right after a loss
  // expires before its burst goes quiet, and its loss must still be reported.
  std::vector<BurstReport> departed_bursts_;
};

} // namespace midimesh::node
