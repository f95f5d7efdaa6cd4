// meshbench: how much MIDI a real midimesh hub forwards and how late, against plain ZeroMQ
// XPUB->XSUB (the sockets of a node's MeshLink) without a hub, on loopback. Starts the hub as a
// child process, runs every scenario with in-process clients, prints a table and optionally writes
// JSON.

#include "fairness.hpp"
#include "hub_process.hpp"
#include "jack_scenarios.hpp"
#include "log/log.hpp"
#include "mdns_check.hpp"
#include "mesh_trials.hpp"
#include "node_fleet.hpp"
#include "node_scenarios.hpp"
#include "proc_stats.hpp"
#include "report.hpp"
#include "rtp_scenarios.hpp"
#include "scenarios.hpp"
#include "stream_run.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace {

using namespace meshbench;

struct Options {
  std::string midimesh = MESHBENCH_MIDIMESH; // the hub built beside this tool
  std::uint16_t port = 0;                    // 0: a free pair found at start
  std::size_t receivers = 8;
  std::uint64_t messages = 1'000'000;
  double seconds = 10;
  double rate = 1000;
  std::uint64_t window = 20'000;
  std::uint64_t batch = 500;
  int io_threads = 2;
  bool quick = false;
  bool skip_baseline = false;
  std::string only; // "" or one of --only's choices
  std::string json;
  std::string hub_log;
  // Through real node processes.
  std::vector<std::size_t> node_counts = {2, 8, 32}; // for 1 sender's latency
  std::size_t fleet = 8;                             // all sending; throughput 1->fleet
  double node_seconds = 10;
  std::uint64_t node_messages = 200'000; // throughput: per sender
  // In flight per receiving node: a node drops what its output socket cannot hold (like a MIDI
  // driver's full queue), and that holds ~500 small messages with Linux's default wmem_max.
  std::uint64_t node_window = 400;
  double idle_seconds = 10;
  // Through the RTP-MIDI bridge: each path sends this long, at `rate`.
  double rtp_seconds = 10;
  // End to end through JACK (when jackd is installed).
  bool no_jack = false;
  std::vector<unsigned> jack_periods = {512, 128};
  std::vector<std::size_t> jack_nodes = {2, 8};
  double jack_seconds = 10;
  // Joins and failovers: trials of each (0: 20, quick: 5 joins and 3 failovers).
  std::size_t trials = 0;
  std::string trial_log_level = "info";
  bool keep_logs = false;
  // One stream between two nodes started elsewhere (--only stream; tools/lossy-trials).
  std::string stream_from, stream_to;
  double fairness_seconds = 10;     // the hub under floods and non-reading receivers
  double sysex_flood_rate = 500;    // 200 KB dumps per second offered
  double note_flood_rate = 200'000; // note-ons per second offered
};

// Throughput scenarios measure what the hub can forward: each of their senders floods by design,
// so they run without the per-sender budget a hub keeps by default (PROTOCOL.md, "Limits").
const std::vector<std::string> unbudgeted = {"--sender-budget", "off"};

void run_nodes(const Options& o, Report& report) {
  const std::uint16_t port = find_free_hub_ports();
  char dir_template[] = "/tmp/meshbench-XXXXXX";
  if (!::mkdtemp(dir_template)) throw BenchError("cannot create a directory in /tmp");
  const std::string dir = dir_template;
  const std::string node_log = dir + "/nodes.log";
  const std::string hub_log = o.hub_log + ".nodes";
  HubProcess hub(o.midimesh, port, hub_log, unbudgeted);
  std::printf("node scenarios: hub pid %d on 127.0.0.1:%u, hub log %s, node log %s\n", hub.pid(),
              port, hub_log.c_str(), node_log.c_str());
  std::fflush(stdout);
  const std::chrono::milliseconds join_limit(15'000);
  const std::chrono::milliseconds limit(o.quick ? 10'000 : 60'000);
  auto fleet_of = [&](std::size_t nodes) {
    FleetConfig config{o.midimesh, port, nodes, dir, node_log, {}, {}};
    auto fleet = std::make_unique<NodeFleet>(config);
    fleet->probe(join_limit);
    return fleet;
  };
  auto peak = [&](NodeFleet& fleet) {
    for (std::size_t i = 0; i < fleet.size(); ++i)
      report.node_peak_rss_kib =
          std::max(report.node_peak_rss_kib, read_proc(fleet.pid(i)).peak_rss_kib);
  };
  for (std::size_t nodes : o.node_counts) {
    std::printf("latency through %zu nodes, 1 sender...\n", nodes);
    std::fflush(stdout);
    auto fleet = fleet_of(nodes);
    if (nodes == o.fleet) {
      std::printf("idle for %.1f s...\n", o.idle_seconds);
      std::fflush(stdout);
      report.idle = measure_idle(*fleet, hub.pid(), o.idle_seconds);
    }
    report.node_latency.push_back(
        run_node_latency(*fleet, fmt::format("1 of {}", nodes), 1, o.rate, o.node_seconds));
    if (nodes == o.fleet) {
      std::printf("latency through %zu nodes, all sending...\n", nodes);
      std::fflush(stdout);
      report.node_latency.push_back(
          run_node_latency(*fleet, fmt::format("all {}", nodes), nodes, o.rate, o.node_seconds));
      std::printf("throughput %zu<->%zu nodes...\n", nodes, nodes);
      std::fflush(stdout);
      report.node_throughput.push_back(run_node_throughput(
          *fleet, hub.pid(), fmt::format("{}<->{}", nodes, nodes), nodes,
          std::max<std::uint64_t>(1, o.node_messages / nodes), o.node_window, limit));
    }
    peak(*fleet);
  }
  {
    std::printf("throughput 1->%zu nodes...\n", o.fleet);
    std::fflush(stdout);
    auto fleet = fleet_of(o.fleet + 1);
    report.node_throughput.push_back(run_node_throughput(*fleet, hub.pid(),
                                                         fmt::format("1->{}", o.fleet), 1,
                                                         o.node_messages, o.node_window, limit));
    peak(*fleet);
  }
  report.hub_peak_rss_kib = read_proc(hub.pid()).peak_rss_kib;
  report.node_hub_exit = hub.stop();
  std::printf("tcp echo baseline...\n");
  std::fflush(stdout);
  report.tcp_echo_rtt = run_tcp_echo(o.rate, o.node_seconds);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored); // the sockets and node log: kept when a run failed
}

void run_trials(const Options& o, Report& report) {
  char dir_template[] = "/tmp/meshbench-trials-XXXXXX";
  if (!::mkdtemp(dir_template)) throw BenchError("cannot create a directory in /tmp");
  const std::string dir = dir_template;
  TrialsConfig config{o.midimesh, dir, 0, mdns_unavailable(), o.trial_log_level};
  // The trials hear the nodes' roles through the product's monitor watcher and mDNS browser:
  // their lines about every node found and every other mesh ignored would bury the progress.
  midimesh::log::set_level(midimesh::log::Level::warning);
  config.progress = [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  };
  auto trials = [&](std::size_t quick) { return o.trials ? o.trials : o.quick ? quick : 20; };
  if (config.no_mdns) std::printf("mDNS trials skipped: %s\n", config.no_mdns->c_str());
  std::printf("join and failover trials, node logs in %s...\n", dir.c_str());
  std::fflush(stdout);
  bool failed = false;
  if (o.only.empty() || o.only == "join") {
    config.trials = trials(5);
    for (auto run : {run_connect_join, run_mdns_join}) {
      report.joins.push_back(run(config));
      failed = failed || !report.joins.back().failures.empty();
    }
  }
  if (o.only.empty() || o.only == "failover") {
    config.trials = trials(3);
    for (int signal : {SIGKILL, SIGTERM}) {
      report.failovers.push_back(run_failover(config, signal));
      failed = failed || !report.failovers.back().failures.empty();
    }
  }
  std::error_code ignored;
  if (failed || o.keep_logs)
    report.trial_logs = dir; // what the nodes said, to read why
  else
    std::filesystem::remove_all(dir, ignored);
  // The table still shows every result; the exit status says a bound was hit.
  if (failed) throw BenchError("a join or failover trial failed (see the table)");
}

std::string joined(int argc, char** argv) {
  std::string text;
  for (int i = 0; i < argc; ++i)
    text += (i ? " " : "") + std::string(argv[i]);
  return text;
}

void run(const Options& o, Report& report) {
  zmq::context_t context(o.io_threads);
  const std::uint16_t port = o.port ? o.port : find_free_hub_ports();
  HubProcess hub(o.midimesh, port, o.hub_log, unbudgeted);
  report.hub_pid = hub.pid();
  std::printf("hub pid %d on 127.0.0.1:%u/%u, log %s\n", hub.pid(), port, port + 1u,
              o.hub_log.c_str());
  std::fflush(stdout); // a profiler attaches by this line

  Topology via_hub{"hub", fmt::format("tcp://127.0.0.1:{}", port),
                   fmt::format("tcp://127.0.0.1:{}", port + 1), [&hub] { return hub.running(); }};
  Topology direct{"direct", "", "", [] { return true; }};
  std::vector<const Topology*> paths = {&via_hub};
  if (!o.skip_baseline) paths.push_back(&direct);

  // Quick runs have a tight limit per scenario so that the whole run stays under 30 s.
  const std::chrono::milliseconds limit(o.quick ? 3000 : 60'000);
  ThroughputPlan one_to_many{fmt::format("1->{}", o.receivers),
                             {1, o.receivers, false, 0},
                             o.messages,
                             o.window,
                             o.batch,
                             limit};
  // All send at once: the same total offered (messages split over the senders).
  ThroughputPlan all_to_all{fmt::format("{}<->{}", o.receivers, o.receivers),
                            {o.receivers, o.receivers, true, 0},
                            std::max<std::uint64_t>(1, o.messages / o.receivers),
                            o.window,
                            o.batch,
                            limit};
  const std::vector<LatencyPlan> latency_plans = {
      {"1->1", 1, 1, o.rate, o.seconds}, // the plain pair: the goal's yardstick
      {fmt::format("1->{}", o.receivers), 1, o.receivers, o.rate, o.seconds},
      {fmt::format("{}<->{}", o.receivers, o.receivers), o.receivers, o.receivers, o.rate,
       o.seconds}};

  for (const Topology* path : paths) {
    if (o.only != "latency") {
      for (const ThroughputPlan* plan : {&one_to_many, &all_to_all}) {
        std::printf("throughput %s via %s...\n", plan->label.c_str(), path->name.c_str());
        std::fflush(stdout);
        report.throughput.push_back(run_throughput(context, *path, *plan));
      }
    }
    if (o.only != "throughput") {
      for (const LatencyPlan& plan : latency_plans) {
        std::printf("latency %s via %s for %.1f s...\n", plan.label.c_str(), path->name.c_str(),
                    o.seconds);
        std::fflush(stdout);
        report.latency.push_back(run_latency(context, *path, plan));
      }
    }
    // The hub is done once its scenarios are: the baseline runs without it taking CPU.
    if (path == &via_hub) report.hub_exit = hub.stop();
  }
  // Hub scenarios first then direct ones: list them paired for the table.
  std::stable_sort(report.throughput.begin(), report.throughput.end(),
                   [](const auto& a, const auto& b) { return a.label < b.label; });
  std::stable_sort(report.latency.begin(), report.latency.end(), [](const auto& a, const auto& b) {
    return std::pair(a.senders, a.receivers) < std::pair(b.senders, b.receivers);
  });
}

} // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"meshbench: throughput and latency of a midimesh hub against a node's own "
               "XPUB/XSUB link without a hub, on 127.0.0.1"};
  app.add_option("--midimesh", o.midimesh, "The midimesh binary to start as the hub")
      ->capture_default_str();
  app.add_option("--port", o.port, "Hub base port (0: find a free pair)")
      ->check(CLI::Range(0, 65534));
  app.add_option("--receivers,-r", o.receivers, "Receivers (and senders, all-to-all)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--messages,-m", o.messages, "Throughput: messages sent in all per scenario")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seconds,-d", o.seconds, "Latency: how long the sender sends")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--rate", o.rate, "Latency: messages per second")
      ->check(CLI::Range(1.0, 100'000.0))
      ->capture_default_str();
  app.add_option(
         "--window", o.window,
         "Throughput: most messages in flight per receiver, shared by its senders (0: unpaced)")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "Throughput: messages per sender per turn")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--io-threads", o.io_threads, "ZeroMQ I/O threads of the clients")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  auto* quick = app.add_flag("--quick", o.quick,
                             "Short run (under a minute): 100,000 messages, 1 s of each latency, "
                             "20,000 through real nodes, 1 s each way through the RTP-MIDI "
                             "bridge, JACK at 512 frames, 5 joins and 3 failovers of each kind");
  app.add_flag("--skip-baseline", o.skip_baseline, "Measure the hub only");
  app.add_option("--only", o.only, "Run one measurement only")
      ->check(CLI::IsMember({"throughput", "latency", "nodes", "rtp", "jack", "join", "failover",
                             "stream", "fairness"}));
  app.add_option("--stream-from", o.stream_from,
                 "Stream: the sending node's --port-name (a node running with --midi-api socket)");
  app.add_option("--stream-to", o.stream_to, "Stream: the receiving node's --port-name");
  app.add_option("--trials", o.trials,
                 "Joins and failovers: trials of each (default 20; quick: 5 joins, 3 failovers)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--trial-log-level", o.trial_log_level,
                 "Joins and failovers: the nodes' log level")
      ->check(CLI::IsMember({"debug", "info"}))
      ->capture_default_str();
  app.add_flag(
      "--keep-logs", o.keep_logs,
      "Joins and failovers: keep the nodes' logs (they are kept anyway when a trial fails)");
  app.add_option("--nodes", o.node_counts, "Real nodes: how many for 1 sender's latency")
      ->check(CLI::Range(2, 127))
      ->capture_default_str();
  app.add_option("--fleet", o.fleet, "Real nodes: the count that all send at once (and 1->N)")
      ->check(CLI::Range(2, 126))
      ->capture_default_str();
  app.add_option("--node-seconds", o.node_seconds, "Real nodes: how long each latency run sends")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--node-messages", o.node_messages,
                 "Real nodes: throughput messages (1->N: all from one; N<->N: split)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--node-window", o.node_window,
                 "Real nodes: most messages in flight per receiving node, shared by its senders")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--idle-seconds", o.idle_seconds, "Real nodes: idle CPU window")
      ->check(CLI::Range(0.5, 600.0))
      ->capture_default_str();
  app.add_option("--rtp-seconds", o.rtp_seconds,
                 "RTP-MIDI bridge: how long each path sends (peer -> mesh, mesh -> peer)")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_flag("--no-jack", o.no_jack, "Skip the end-to-end run through a JACK server");
  app.add_option("--jack-periods", o.jack_periods,
                 "JACK: periods in frames at 48 kHz, a server each")
      ->delimiter(',')
      ->check(CLI::Range(16, 8192))
      ->capture_default_str();
  app.add_option("--jack-nodes", o.jack_nodes, "JACK: node counts, one sender each")
      ->delimiter(',')
      ->check(CLI::Range(2, 127))
      ->capture_default_str();
  app.add_option("--jack-seconds", o.jack_seconds, "JACK: how long each run sends")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--fairness-seconds", o.fairness_seconds,
                 "Fairness: how long two honest 1 kHz streams run beside a SysEx flood, a "
                 "note-on flood and two receivers that do not read")
      ->check(CLI::Range(0.5, 600.0))
      ->capture_default_str();
  app.add_option("--sysex-flood-rate", o.sysex_flood_rate,
                 "Fairness: 200 KB SysEx dumps per second the flooder offers (0: none)")
      ->check(CLI::Range(0.0, 10'000.0))
      ->capture_default_str();
  app.add_option("--note-flood-rate", o.note_flood_rate,
                 "Fairness: note-ons per second the other flooder offers (0: none)")
      ->check(CLI::Range(0.0, 10'000'000.0))
      ->capture_default_str();
  app.add_option("--json", o.json, "Also write the results as JSON to FILE")->type_name("FILE");
  app.add_option("--hub-log", o.hub_log, "Where the hub's output goes")->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*quick) {
    if (app.count("--messages") == 0) o.messages = 100'000;
    if (app.count("--seconds") == 0) o.seconds = 1;
    if (app.count("--node-seconds") == 0) o.node_seconds = 1;
    if (app.count("--node-messages") == 0) o.node_messages = 20'000;
    if (app.count("--idle-seconds") == 0) o.idle_seconds = 2;
    if (app.count("--rtp-seconds") == 0) o.rtp_seconds = 1;
    if (app.count("--jack-periods") == 0) o.jack_periods = {512};
    if (app.count("--jack-nodes") == 0) o.jack_nodes = {2};
    if (app.count("--jack-seconds") == 0) o.jack_seconds = 2;
    if (app.count("--fairness-seconds") == 0) o.fairness_seconds = 3;
  }
  if (std::find(o.node_counts.begin(), o.node_counts.end(), o.fleet) == o.node_counts.end())
    o.node_counts.push_back(o.fleet); // its idle and all-sending runs need it
  if (o.hub_log.empty()) o.hub_log = fmt::format("/tmp/meshbench-hub-{}.log", ::getpid());

  if (o.only == "stream") {
    if (o.stream_from.empty() || o.stream_to.empty()) {
      std::fprintf(stderr, "meshbench: --only stream needs --stream-from and --stream-to\n");
      return 2;
    }
    try {
      const StreamConfig config{o.stream_from, o.stream_to, o.rate, o.seconds};
      const StreamResult result = run_stream(config);
      std::fputs(format_stream(config, result).c_str(), stdout);
      if (!o.json.empty()) std::ofstream(o.json) << stream_json(config, result);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "meshbench: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  Report report;
  report.midimesh = o.midimesh;
  report.command = joined(argc, argv);
  report.cores = std::thread::hardware_concurrency();
  report.window = o.window;
  report.batch = o.batch;
  int status = 0;
  try {
    if (o.only.empty() || o.only == "throughput" || o.only == "latency")
      run(o, report); // the hub is stopped by then, whatever happened
    if (o.only.empty() || o.only == "nodes") run_nodes(o, report);
    if (o.only.empty() || o.only == "rtp") {
      report.rtp = run_rtp_scenarios({o.midimesh, o.rate, o.rtp_seconds, o.hub_log + ".rtp"});
      if (report.rtp->failed()) status = 1;
    }
    if ((o.only.empty() && !o.no_jack) || o.only == "jack") {
      report.jack = run_jack_scenarios({o.midimesh, o.jack_periods, o.jack_nodes, 48000, o.rate,
                                        o.jack_seconds, o.hub_log + ".jack"});
      if (report.jack->failed()) status = 1;
    }
    if (o.only.empty() || o.only == "fairness") {
      std::printf("fairness: 2 honest streams beside floods and non-reading receivers for %.1f "
                  "s, hub log %s...\n",
                  o.fairness_seconds, (o.hub_log + ".fairness").c_str());
      std::fflush(stdout);
      FairnessPlan plan;
      plan.midimesh = o.midimesh;
      plan.hub_log = o.hub_log + ".fairness";
      plan.seconds = o.fairness_seconds;
      plan.rate_hz = o.rate;
      plan.sysex_rate_hz = o.sysex_flood_rate;
      plan.note_flood_rate_hz = o.note_flood_rate;
      report.fairness = run_fairness(plan);
    }
    if (o.only.empty() || o.only == "join" || o.only == "failover") run_trials(o, report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meshbench: %s (hub log: %s)\n", e.what(), o.hub_log.c_str());
    status = 1;
  }
  std::fputs(format_table(report).c_str(), stdout);
  if (!o.json.empty()) {
    std::ofstream file(o.json);
    file << format_json(report);
    if (!file) {
      std::fprintf(stderr, "meshbench: cannot write %s\n", o.json.c_str());
      status = 1;
    }
  }
  return status;
}
