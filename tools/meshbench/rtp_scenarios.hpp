#pragma once
// Latency through the RTP-MIDI bridge, beside the mesh's own on the same processes: a hub,
// node A (socket MIDI, and an RTP-MIDI session on a free port) and node B (socket MIDI).
// meshbench joins node A's session as an RTP-MIDI peer (rtp_peer.hpp) and times its stamps
// (stamp.hpp) from the peer to node B's output, and from node B's input to the peer; the mesh's
// own path is node A's input to node B's output. Every wait is bounded; the processes started
// are ended by PID.

#include "percentiles.hpp"
#include "rtpmidi/session.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace meshbench {

struct RtpPathResult {
  std::string label; // the path, e.g. "RTP peer -> node A -> hub -> node B"
  std::string path;  // for scripts: "mesh", "rtp_in" (peer to B), "rtp_out" (B to the peer)
  std::uint64_t sent = 0, expected = 0, delivered = 0, lost = 0, duplicates = 0;
  double rate_hz = 0; // achieved
  LatencySummary latency;
  std::string error; // why this path was not measured; the others still are
};

struct RtpRun {
  std::uint16_t rtp_port = 0; // node A's control port
  std::vector<RtpPathResult> results;
  midimesh::rtpmidi::SessionCounters peer; // the peer's session: losses it saw from node A
  std::string hub_exit;
  bool failed() const;
};

struct RtpPlan {
  std::string midimesh;
  double rate_hz = 1000;
  double seconds = 10; // each path
  std::string hub_log;
};

// Throws BenchError (or HubProcessError) when the set-up fails: the nodes do not join, node A's
// session does not take the peer.
RtpRun run_rtp_scenarios(const RtpPlan& plan);

} // namespace meshbench
