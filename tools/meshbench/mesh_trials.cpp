#include "mesh_trials.hpp"

#include "bench_mesh.hpp"
#include "hub_process.hpp"
#include "mesh_roles.hpp"
#include "receiver.hpp"
#include "timed_stream.hpp"
#include "trial_node.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <memory>
#include <random>
#include <set>
#include <unistd.h>

namespace meshbench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Bounds: generous against a busy 2-core machine, each far above the goal it guards.
constexpr milliseconds form_limit(15'000);   // a fresh mesh agrees on one hub
constexpr milliseconds report_lag(1'500);    // and its nodes have reported it (about once a s)
constexpr milliseconds carry_limit(5'000);   // its first message goes through
constexpr milliseconds join_limit(10'000);   // a new node's first message goes through
constexpr milliseconds steady_time(200);     // MIDI flowing before the hub goes, then
constexpr int heartbeat_ms = 100;            // up to a heartbeat more (see run_failover)
constexpr milliseconds recover_limit(5'000); // MIDI again after the hub went
constexpr milliseconds tail_time(300);       // MIDI goes on after recovering, for the loss count
constexpr milliseconds drain_quiet(300);
constexpr milliseconds drain_limit(2'000);

std::string tag() {
  return fmt::format("mb{}", ::getpid()); // mesh and node names: stale mDNS records never match
}

std::vector<std::string> automatic(const TrialsConfig& config, const std::string& mesh) {
  return {"--mesh",      mesh,
          "--bind",      "127.0.0.1",
          "--port",      std::to_string(find_free_hub_ports()),
          "--log-level", config.log_level};
}

std::vector<std::string> connect(const TrialsConfig& config, const std::string& hub_address) {
  return {"--connect", hub_address, "--mesh", bench_mesh(), "--log-level", config.log_level};
}

// Waits until the nodes' reports agree on one hub; its name, or nullopt after the bound or
// when one of them exits. Nodes report about once a second: an agreement is seen up to a
// second after it is reached (the trials time MIDI, not this), hence the bound's report_lag.
std::optional<std::string> wait_for_hub(const std::vector<TrialNode*>& nodes, MeshRoles& roles) {
  std::vector<std::string> names;
  for (const TrialNode* n : nodes)
    names.push_back(n->name());
  const auto give_up = Clock::now() + form_limit + report_lag;
  while (Clock::now() < give_up) {
    if (auto hub = roles.agreed_hub(names)) return hub;
    for (TrialNode* n : nodes)
      if (!n->running()) return std::nullopt;
    roles.poll(milliseconds(100));
  }
  return roles.agreed_hub(names);
}

// SIGTERM to all at once, then each collected: the goodbyes linger in parallel.
void end_all(const std::vector<TrialNode*>& nodes) {
  for (TrialNode* n : nodes)
    n->signal(SIGTERM);
  for (TrialNode* n : nodes)
    (void)n->stop();
}

// Waits until `node` reports following a hub.
bool wait_for_follower(TrialNode& node, MeshRoles& roles, milliseconds limit) {
  const auto give_up = Clock::now() + limit;
  while (Clock::now() < give_up && node.running()) {
    if (roles.role(node.name()).kind == NodeRole::Kind::follower) return true;
    roles.poll(milliseconds(100));
  }
  return roles.role(node.name()).kind == NodeRole::Kind::follower;
}

std::int64_t us_since(std::uint64_t start_us, std::uint64_t at_us) {
  return static_cast<std::int64_t>(at_us) - static_cast<std::int64_t>(start_us);
}

void finish(JoinResult& r) {
  r.summary = summarize(r.samples_us);
}

// The new node's messages, from its launch: the first one played out at `outlet`.
std::optional<std::int64_t> time_join(MidiOutlet& outlet, const std::string& midimesh,
                                      const std::vector<std::string>& args, const std::string& dir,
                                      const std::string& name, std::uint8_t stream_id,
                                      std::string& why) {
  // Playing before the node exists: the inlet keeps trying until it has bound its input.
  TimedStream stream(MidiInlet(dir + "/" + name), outlet, stream_id);
  const std::uint64_t launch_us = steady_us();
  TrialNode node(midimesh, args, dir, name);
  const bool came = stream.listen_until(
      [&] { return !stream.arrivals().empty() || !node.running(); }, Clock::now() + join_limit);
  if (came && !stream.arrivals().empty())
    return us_since(launch_us, stream.arrivals().front().at_us);
  why = node.running() ? fmt::format("no message of {} played out within {} ms (log {})", name,
                                     join_limit.count(), node.log_path())
                       : fmt::format("{} exited (log {})", name, node.log_path());
  return std::nullopt;
}

} // namespace

JoinResult run_connect_join(const TrialsConfig& config) {
  JoinResult r;
  r.label = "connect";
  r.trials = config.trials;
  const std::uint16_t port = find_free_hub_ports();
  const std::string hub_address = fmt::format("127.0.0.1:{}", port);
  HubProcess hub(config.midimesh, port, config.dir + "/join-hub.log");
  MeshRoles roles(port);
  TrialNode receiver(config.midimesh, connect(config, hub_address), config.dir, tag() + "-cj-recv");
  if (!wait_for_follower(receiver, roles, join_limit)) {
    r.failures.push_back(fmt::format(
        "the receiving node reported no hub on the hub's monitor port within {} ms (log {})",
        join_limit.count(), receiver.log_path()));
    return r;
  }
  MidiOutlet outlet(receiver.port_name());
  for (std::size_t t = 0; t < config.trials; ++t) {
    std::string why;
    const auto us =
        time_join(outlet, config.midimesh, connect(config, hub_address), config.dir,
                  fmt::format("{}-cj{}", tag(), t), static_cast<std::uint8_t>(t % 128), why);
    if (us)
      r.samples_us.push_back(*us);
    else
      r.failures.push_back(fmt::format("trial {}: {}", t + 1, why));
    config.progress(fmt::format("join --connect {}/{}: {}", t + 1, config.trials,
                                us ? fmt::format("{:.1f} ms", *us / 1000.0) : "failed"));
  }
  finish(r);
  return r;
}

JoinResult run_mdns_join(const TrialsConfig& config) {
  JoinResult r;
  r.label = "mdns";
  r.trials = config.trials;
  if (config.no_mdns) {
    r.skipped = *config.no_mdns;
    return r;
  }
  for (std::size_t t = 0; t < config.trials; ++t) {
    const std::string mesh = fmt::format("{}-join{}", tag(), t);
    MeshRoles roles(mesh);
    TrialNode a(config.midimesh, automatic(config, mesh), config.dir, mesh + "-a");
    TrialNode b(config.midimesh, automatic(config, mesh), config.dir, mesh + "-b");
    auto fail = [&](const std::string& why) {
      r.failures.push_back(fmt::format("trial {}: {} (logs {}-*.log)", t + 1, why, mesh));
    };
    if (!wait_for_hub({&a, &b}, roles)) {
      fail("the mesh of 2 did not agree on a hub");
      end_all({&a, &b});
      continue;
    }
    MidiOutlet outlet(b.port_name());
    {
      // a keeps playing to b while the third node joins: a mesh carrying MIDI.
      TimedStream carrying(MidiInlet(a.port_name()), outlet, 0);
      if (!carrying.listen_until([&] { return !carrying.arrivals().empty(); },
                                 Clock::now() + carry_limit)) {
        fail("the mesh of 2 carried no MIDI");
      } else {
        std::string why;
        const auto us = time_join(outlet, config.midimesh, automatic(config, mesh), config.dir,
                                  mesh + "-c", 1, why);
        if (us)
          r.samples_us.push_back(*us);
        else
          fail(why);
        config.progress(fmt::format("join by mDNS {}/{}: {}", t + 1, config.trials,
                                    us ? fmt::format("{:.1f} ms", *us / 1000.0) : "failed"));
      }
    }
    end_all({&a, &b});
  }
  finish(r);
  return r;
}

namespace {

struct Counted {
  std::uint64_t lost = 0, duplicates = 0;
};

// Over every message played from the first that arrived on: never arrived, arrived twice.
Counted count(const std::vector<Arrival>& arrivals, std::uint64_t played) {
  Counted c;
  if (arrivals.empty()) return c;
  std::uint64_t first = arrivals.front().seq;
  for (const Arrival& a : arrivals)
    first = std::min(first, a.seq);
  std::vector<std::uint8_t> seen(played > first ? played - first : 0, 0);
  for (const Arrival& a : arrivals) {
    if (a.seq < first || a.seq - first >= seen.size()) continue;
    if (seen[a.seq - first]++) ++c.duplicates;
  }
  c.lost = static_cast<std::uint64_t>(std::count(seen.begin(), seen.end(), 0));
  return c;
}

// The longest time the receiver heard nothing, from the last arrival before `t0_us` up to
// arrivals[until].
std::int64_t longest_silence(const std::vector<Arrival>& arrivals, std::uint64_t t0_us,
                             std::size_t until) {
  std::int64_t longest = 0;
  for (std::size_t i = 1; i <= until && i < arrivals.size(); ++i)
    if (arrivals[i].at_us > t0_us)
      longest = std::max(longest, us_since(arrivals[i - 1].at_us, arrivals[i].at_us));
  return longest;
}

} // namespace

FailoverResult run_failover(const TrialsConfig& config, int signal) {
  FailoverResult r;
  r.label = signal == SIGKILL ? "SIGKILL" : "SIGTERM";
  r.trials = config.trials;
  if (config.no_mdns) {
    r.skipped = *config.no_mdns;
    return r;
  }
  const char* what = signal == SIGKILL ? "kill" : "term";
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> phase(0, heartbeat_ms - 1);
  for (std::size_t t = 0; t < config.trials; ++t) {
    const std::string mesh = fmt::format("{}-{}{}", tag(), what, t);
    auto fail = [&](const std::string& why) {
      r.failures.push_back(fmt::format("trial {}: {} (logs {}-*.log)", t + 1, why, mesh));
    };
    MeshRoles roles(mesh);
    std::vector<std::unique_ptr<TrialNode>> owned;
    std::vector<TrialNode*> nodes;
    for (int n = 0; n < 3; ++n) {
      owned.push_back(std::make_unique<TrialNode>(config.midimesh, automatic(config, mesh),
                                                  config.dir, fmt::format("{}-{}", mesh, n)));
      nodes.push_back(owned.back().get());
    }
    const auto hub_name = wait_for_hub(nodes, roles);
    if (!hub_name) {
      fail("the mesh of 3 did not agree on a hub");
      end_all(nodes);
      continue;
    }
    TrialNode* hub = nullptr;
    std::vector<TrialNode*> survivors;
    for (TrialNode* n : nodes) {
      if (n->name() == *hub_name)
        hub = n;
      else
        survivors.push_back(n);
    }
    TrialNode& sender = *survivors[0];
    TrialNode& receiver = *survivors[1];
    MidiOutlet outlet(receiver.port_name());
    TimedStream stream(MidiInlet(sender.port_name()), outlet, 0);
    if (!stream.listen_until([&] { return !stream.arrivals().empty(); },
                             Clock::now() + carry_limit)) {
      fail("the mesh of 3 carried no MIDI");
      end_all(nodes);
      continue;
    }
    // The signal at a random point of the hub's heartbeat: the stream starts as the mesh has
    // just formed, so a fixed delay would always kill the hub just after the same hello.
    const auto steady_until = Clock::now() + steady_time + milliseconds(phase(random));
    (void)stream.listen_until([&] { return Clock::now() >= steady_until; }, steady_until);
    roles.forget(); // the hub's own reports end here; the survivors' next ones name the new hub
    const std::uint64_t t0 = steady_us();
    hub->signal(signal);
    if (!stream.listen_until([&] { return stream.first_sent_after(t0) != nullptr; },
                             Clock::now() + recover_limit)) {
      fail(fmt::format("no message sent after the {} played out within {} ms", r.label,
                       recover_limit.count()));
      end_all(nodes);
      continue;
    }
    FailoverSample s;
    // An index: the arrivals grow (and may move) while the tail is recorded.
    const std::size_t first =
        static_cast<std::size_t>(stream.first_sent_after(t0) - stream.arrivals().data());
    s.us = us_since(t0, stream.arrivals()[first].at_us);
    const auto tail_until = Clock::now() + tail_time;
    (void)stream.listen_until([&] { return Clock::now() >= tail_until; }, tail_until);
    stream.drain(drain_quiet, Clock::now() + drain_limit);
    s.gap_us = longest_silence(stream.arrivals(), t0, first);
    for (const Arrival& a : stream.arrivals())
      if (a.at_us <= t0) s.last_before_us = us_since(a.at_us, t0);
    s.played = stream.played();
    const Counted c = count(stream.arrivals(), s.played);
    s.lost = c.lost;
    s.duplicates = c.duplicates;
    // After the measurement: waiting for the survivors' reports delays only the next trial.
    const auto new_hub = wait_for_hub({&sender, &receiver}, roles);
    s.new_hub = new_hub == sender.name()     ? "sender"
                : new_hub == receiver.name() ? "receiver"
                                             : "unsettled";
    config.progress(fmt::format("failover {} {}/{}: {:.1f} ms, silence {:.1f} ms (from {:.1f} ms "
                                "before the signal), lost {} of {}, new hub: the {}",
                                r.label, t + 1, config.trials, s.us / 1000.0, s.gap_us / 1000.0,
                                s.last_before_us / 1000.0, s.lost, s.played, s.new_hub));
    r.samples.push_back(s);
    end_all(nodes);
  }
  std::vector<std::int64_t> times, gaps;
  for (const auto& s : r.samples) {
    times.push_back(s.us);
    gaps.push_back(s.gap_us);
    r.lost += s.lost;
    r.trials_with_loss += s.lost > 0;
  }
  r.summary = summarize(times);
  r.gap = summarize(gaps);
  return r;
}

} // namespace meshbench
