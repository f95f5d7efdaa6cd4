#include "rtp_scenarios.hpp"

#include "bench_mesh.hpp"
#include "hub_process.hpp"
#include "limits.hpp"
#include "node_fleet.hpp"
#include "node_scenarios.hpp"
#include "receiver.hpp"
#include "rtp_peer.hpp"
#include "stamp.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <functional>
#include <mutex>
#include <unistd.h>

namespace meshbench {
namespace {

namespace rtp = midimesh::rtpmidi;
using Clock = std::chrono::steady_clock;

// Stamp sources outside the fleet's node indexes (0 and 1), so the fleet leaves them to us.
constexpr std::uint8_t peer_source = 127; // played by the RTP peer
constexpr std::uint8_t out_source = 126;  // played into node B, for the peer
constexpr std::size_t node_b = 1;         // node A is 0, the bridge
constexpr auto join_limit = std::chrono::milliseconds(15'000);
constexpr auto invite_limit = std::chrono::milliseconds(6'000);
constexpr auto probe_every = std::chrono::milliseconds(20);
constexpr auto turn = std::chrono::microseconds(5'000); // longest pump wait while waiting

// Which measured stamps of one source arrived and how late. The fleet's listening thread
// records node B's; the calling thread the peer's; either reads while the other records.
class Arrivals {
public:
  void reset(std::uint64_t capacity) {
    std::lock_guard lock(mutex_);
    seen_.assign(capacity, false);
    latencies_us_.clear();
    latencies_us_.reserve(capacity); // no allocation while measuring
    delivered_ = duplicates_ = 0;
  }
  void record(const Stamp& stamp, std::uint64_t at_us) {
    std::lock_guard lock(mutex_);
    if (stamp.kind == Stamp::probe) probed_ = true;
    if (stamp.kind != Stamp::measured || stamp.seq >= seen_.size()) return;
    if (seen_[stamp.seq]) {
      ++duplicates_;
      return;
    }
    seen_[stamp.seq] = true;
    ++delivered_;
    latencies_us_.push_back(static_cast<std::int64_t>(at_us - stamp.time_us));
  }
  bool probed() const {
    std::lock_guard lock(mutex_);
    return probed_;
  }
  std::uint64_t delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  void fill(RtpPathResult& r) const {
    std::lock_guard lock(mutex_);
    r.expected = r.sent;
    r.delivered = delivered_;
    r.duplicates = duplicates_;
    r.lost = r.sent - std::min(r.sent, delivered_);
    r.latency = summarize(latencies_us_);
  }

private:
  mutable std::mutex mutex_;
  std::vector<bool> seen_;
  std::vector<std::int64_t> latencies_us_;
  std::uint64_t delivered_ = 0, duplicates_ = 0;
  bool probed_ = false;
};

std::vector<std::uint8_t> stamp_of(Stamp::Kind kind, std::uint8_t source, std::uint64_t seq) {
  const auto m = encode_stamp({kind, source, seq, steady_us()});
  return {m.begin(), m.end()};
}

// Everything the peer and the nodes need while a path runs: the peer is turned between sends
// (its clock sync keeps it joined), and the nodes are checked.
struct Turner {
  RtpPeer& peer;
  RtpPeer::Handler handler;
  NodeFleet& fleet;

  void check() {
    if (!fleet.all_running()) throw BenchError("a node process exited during the run");
    if (fleet.listener_failed()) throw BenchError("the listening thread failed");
  }
  // Turns the peer until `done` or `limit`; returns done().
  bool until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto give_up = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= give_up) return false;
      peer.pump(turn, handler);
      check();
    }
    return true;
  }
  // Plays a probe every probe_every until `heard`; returns heard().
  bool probe(const std::function<void(std::uint64_t)>& play, const std::function<bool()>& heard) {
    const auto give_up = Clock::now() + probe_limit;
    for (std::uint64_t k = 0; Clock::now() < give_up; ++k) {
      play(k);
      if (until(heard, std::min(probe_every, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 give_up - Clock::now()))))
        return true;
    }
    return heard();
  }
  // play(k) for k = 0.. at rate_hz for `seconds` (a refused one is not counted), then turns
  // the peer until `arrivals` has all, or none came for quiet_limit, or drain_limit.
  void measure(RtpPathResult& r, Arrivals& arrivals, double rate_hz, double seconds,
               const std::function<bool(std::uint64_t)>& play) {
    const auto total = static_cast<std::uint64_t>(rate_hz * seconds);
    arrivals.reset(total);
    const auto period =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate_hz));
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds * 1.5 + 1.0));
    for (std::uint64_t k = 0; k < total && Clock::now() < deadline; ++k) {
      const auto due = start + period * static_cast<Clock::rep>(k);
      for (auto now = Clock::now(); now < due; now = Clock::now())
        peer.pump(std::chrono::duration_cast<std::chrono::microseconds>(due - now), handler);
      if (play(k)) ++r.sent;
      if (k % 512 == 0) check();
    }
    const double send_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.rate_hz = send_seconds > 0 ? static_cast<double>(r.sent) / send_seconds : 0;
    const auto give_up = Clock::now() + drain_limit;
    auto last = Clock::now();
    for (std::uint64_t seen = arrivals.delivered(); seen < r.sent;) {
      const auto now = Clock::now();
      if (now >= give_up || now - last >= quiet_limit) break;
      peer.pump(turn, handler);
      if (const std::uint64_t now_seen = arrivals.delivered(); now_seen != seen) {
        seen = now_seen;
        last = Clock::now();
      }
    }
    arrivals.fill(r);
  }
};

} // namespace

bool RtpRun::failed() const {
  return results.empty() || std::any_of(results.begin(), results.end(),
                                        [](const auto& r) { return !r.error.empty(); });
}

RtpRun run_rtp_scenarios(const RtpPlan& plan) {
  char dir_template[] = "/tmp/meshbench-rtp-XXXXXX";
  if (!::mkdtemp(dir_template)) throw BenchError("cannot create a directory in /tmp");
  const std::string dir = dir_template;
  const std::uint16_t hub_port = find_free_hub_ports();
  HubProcess hub(plan.midimesh, hub_port, plan.hub_log);
  RtpRun run;
  run.rtp_port = find_free_rtp_port();
  std::printf("rtp-midi: hub pid %d on 127.0.0.1:%u, node A's RTP-MIDI session on UDP %u/%u, "
              "node log %s/nodes.log\n",
              hub.pid(), hub_port, run.rtp_port, run.rtp_port + 1u, dir.c_str());
  std::fflush(stdout);

  // Before the fleet: its listening thread records here until the fleet is gone.
  Arrivals at_b, at_peer;
  const FleetConfig config{plan.midimesh,
                           hub_port,
                           2,
                           dir,
                           dir + "/nodes.log",
                           {{"--rtp-port", std::to_string(run.rtp_port)}}, // node A bridges
                           [&at_b](std::size_t receiver, const Stamp& stamp, std::uint64_t at_us) {
                             if (receiver == node_b && stamp.source == peer_source)
                               at_b.record(stamp, at_us);
                           }};
  {
    NodeFleet fleet(config);
    fleet.probe(join_limit);

    std::printf("rtp-midi: node A -> hub -> node B for %.1f s...\n", plan.seconds);
    std::fflush(stdout);
    const NodeLatencyResult mesh = run_node_latency(fleet, "1 of 2", 1, plan.rate_hz, plan.seconds);
    RtpPathResult& m = run.results.emplace_back();
    m.label = "node A -> hub -> node B";
    m.path = "mesh";
    m.sent = mesh.sent;
    m.expected = mesh.expected;
    m.delivered = mesh.delivered;
    m.lost = mesh.drops;
    m.rate_hz = mesh.rate_hz;
    m.latency = mesh.latency;

    RtpPeer peer("meshbench");
    bool joined = false;
    std::string failure;
    RtpPeer::Handler handler = [&](const rtp::SessionEvent& event, std::uint64_t at_us) {
      if (std::holds_alternative<rtp::ParticipantJoined>(event)) {
        joined = true;
      } else if (const auto* f = std::get_if<rtp::InvitationFailed>(&event)) {
        failure = f->refused ? "refused (NO)" : "not answered";
      } else if (const auto* left = std::get_if<rtp::ParticipantLeft>(&event)) {
        failure = left->reason == rtp::LeaveReason::bye      ? "node A's session said BY"
                  : left->reason == rtp::LeaveReason::silent ? "node A's session went silent"
                                                             : "node A's session was replaced";
        joined = false;
      } else if (const auto* midi = std::get_if<rtp::ParticipantMidi>(&event)) {
        const auto stamp = decode_stamp(midi->message);
        if (stamp && stamp->source == out_source) at_peer.record(*stamp, at_us);
      }
    };
    Turner turner{peer, handler, fleet};
    peer.invite({"127.0.0.1", run.rtp_port}, 5);
    if (!turner.until([&] { return joined || !failure.empty(); }, invite_limit) || !joined)
      throw BenchError(fmt::format("node A's RTP-MIDI session (UDP {}) did not take meshbench's "
                                   "invitation: {}",
                                   run.rtp_port, failure.empty() ? "timed out" : failure));

    RtpPathResult& in = run.results.emplace_back();
    in.label = "RTP peer -> node A -> hub -> node B";
    in.path = "rtp_in";
    std::printf("rtp-midi: %s for %.1f s...\n", in.label.c_str(), plan.seconds);
    std::fflush(stdout);
    // Node B hears the peer once node A has made it a member and the hub forwards it.
    if (!turner.probe([&](std::uint64_t k) { peer.send(stamp_of(Stamp::probe, peer_source, k)); },
                      [&] { return at_b.probed(); }))
      in.error = fmt::format("node B never played the peer's probes ({} ms)", probe_limit.count());
    else
      turner.measure(in, at_b, plan.rate_hz, plan.seconds, [&](std::uint64_t k) {
        peer.send(stamp_of(Stamp::measured, peer_source, k));
        return true;
      });

    RtpPathResult& out = run.results.emplace_back();
    out.label = "node B -> hub -> node A -> RTP peer";
    out.path = "rtp_out";
    std::printf("rtp-midi: %s for %.1f s...\n", out.label.c_str(), plan.seconds);
    std::fflush(stdout);
    if (!turner.probe(
            [&](std::uint64_t k) {
              (void)fleet.play_message(node_b, stamp_of(Stamp::probe, out_source, k));
            },
            [&] { return at_peer.probed(); }))
      out.error = fmt::format("the peer never got node B's probes ({} ms)", probe_limit.count());
    else
      turner.measure(out, at_peer, plan.rate_hz, plan.seconds, [&](std::uint64_t k) {
        return fleet.play_message(node_b, stamp_of(Stamp::measured, out_source, k));
      });
    if (!joined && !failure.empty())
      for (auto& r : run.results)
        if (r.path != "mesh" && r.error.empty()) r.error = failure;

    peer.leave();
    run.peer = peer.counters();
  } // the nodes end here, before their hub
  run.hub_exit = hub.stop();
  std::error_code ignored;
  if (!run.failed()) std::filesystem::remove_all(dir, ignored); // else the node log is read
  return run;
}

} // namespace meshbench
