#include "jack_scenarios.hpp"

#include "bench_mesh.hpp"
#include "hub_process.hpp"
#include "jack_latency.hpp"
#include "jack_server.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <unistd.h>

namespace meshbench {
namespace {

constexpr std::chrono::milliseconds server_limit{10'000};
constexpr std::chrono::milliseconds ports_limit{10'000};
constexpr std::chrono::milliseconds join_limit{15'000};

// With --midi-api jack a node opens one JACK client per direction, named after --port-name
// (src/midi/rtmidi_ports.cpp): it reads PORT-in:in and plays to PORT-out:out.
std::string node_port_name(std::size_t node) {
  return fmt::format("bench{}", node);
}

// The nodes of one scenario, all asked to end at once when it ends, then each collected.
class Nodes {
public:
  Nodes(const JackPlan& plan, std::uint16_t hub_port, std::size_t count,
        const std::string& log_path) {
    for (std::size_t n = 0; n < count; ++n)
      processes_.push_back(std::make_unique<ChildProcess>(
          std::vector<std::string>{plan.midimesh, "--connect",
                                   fmt::format("127.0.0.1:{}", hub_port), "--midi-api", "jack",
                                   "--port-name", node_port_name(n), "--name", node_port_name(n),
                                   "--mesh", bench_mesh(), "--log-level", "warning"},
          log_path, true));
  }
  ~Nodes() {
    for (auto& p : processes_)
      p->terminate();
    for (auto& p : processes_)
      (void)p->stop();
  }
  Nodes(const Nodes&) = delete;
  Nodes& operator=(const Nodes&) = delete;

  bool all_running() noexcept {
    return std::all_of(processes_.begin(), processes_.end(), [](auto& p) { return p->running(); });
  }

private:
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

JackLatencyResult run_one(const JackPlan& plan, JackServer& server, unsigned period,
                          std::uint16_t hub_port, std::size_t count, const std::string& log_path) {
  Nodes nodes(plan, hub_port, count, log_path); // they find the server by JACK_DEFAULT_SERVER
  const auto alive = [&] { return server.running() && nodes.all_running(); };
  const auto messages = static_cast<std::uint64_t>(plan.rate_hz * plan.seconds);
  JackLatencyClient client(server.name(), count - 1, messages, plan.rate_hz);
  if (client.period() != period)
    throw BenchError(fmt::format("jackd runs at {} frames, not {}", client.period(), period));
  std::vector<std::string> from;
  for (std::size_t n = 1; n < count; ++n)
    from.push_back(node_port_name(n) + "-out:out");
  client.connect(node_port_name(0) + "-in:in", from, ports_limit, alive);
  client.probe(join_limit, alive);
  return client.measure(alive); // the client ends before the nodes do
}

} // namespace

JackRun run_jack_scenarios(const JackPlan& plan) {
  JackRun run;
  const std::string jackd = find_jackd();
  if (jackd.empty()) {
    run.skipped = "jackd not found";
    std::printf("end to end through JACK: skipped, jackd not found\n");
    return run;
  }
  char dir_template[] = "/tmp/meshbench-jack-XXXXXX";
  if (!::mkdtemp(dir_template)) throw BenchError("cannot create a directory in /tmp");
  const std::string dir = dir_template;
  const std::string node_log = dir + "/nodes.log";
  const std::uint16_t port = find_free_hub_ports();
  HubProcess hub(plan.midimesh, port, plan.hub_log);
  std::printf("jack scenarios: hub pid %d on 127.0.0.1:%u, hub log %s, jackd and node logs in "
              "%s\n",
              hub.pid(), port, plan.hub_log.c_str(), dir.c_str());
  std::fflush(stdout);
  for (unsigned period : plan.periods) {
    // A name of its own: no other server is touched, and none of ours is reused before it exits.
    const std::string name = fmt::format("meshbench-{}-{}", ::getpid(), period);
    std::optional<JackServer> server;
    std::string server_error;
    try {
      server.emplace(jackd, name, period, plan.sample_rate,
                     fmt::format("{}/jackd-{}.log", dir, period), server_limit);
    } catch (const std::exception& e) {
      server_error = e.what();
    }
    for (std::size_t count : plan.node_counts) {
      std::printf("end to end through JACK, period %u, %zu nodes, %.1f s...\n", period, count,
                  plan.seconds);
      std::fflush(stdout);
      JackLatencyResult r;
      try {
        if (!server) throw BenchError(server_error);
        if (!hub.running()) throw BenchError("the hub exited");
        r = run_one(plan, *server, period, port, count, node_log);
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      r.period = period;
      r.nodes = count;
      if (r.sample_rate == 0) r.sample_rate = plan.sample_rate;
      run.results.push_back(r);
    }
  }
  (void)hub.stop();
  if (run.failed()) {
    std::printf("end to end through JACK: logs kept in %s\n", dir.c_str());
  } else {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  return run;
}

} // namespace meshbench
