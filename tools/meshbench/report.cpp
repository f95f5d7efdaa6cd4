#include "report.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>

namespace meshbench {
namespace {

template <typename Result>
const Result* find(const std::vector<Result>& results, const std::string& label,
                   const std::string& topology) {
  for (const auto& r : results)
    if (r.label == label && r.topology == topology) return &r;
  return nullptr;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += fmt::format("\\{}", c);
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    else
      out += c;
  }
  return out + "\"";
}

std::string ratio_text(std::optional<double> ratio) {
  return ratio ? fmt::format("{:.2f}", *ratio) : "n/a";
}

std::string json_number(std::optional<double> value) {
  return value ? fmt::format("{:.4f}", *value) : "null";
}

struct Spread {
  double min = 0, mean = 0, max = 0;
};

Spread spread(const std::vector<double>& values) {
  if (values.empty()) return {};
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return {*lo, std::accumulate(values.begin(), values.end(), 0.0) / values.size(), *hi};
}

// The socket backend's "1 of N" of the same run: what JACK is compared with.
const NodeLatencyResult* socket_one_of(const Report& report, std::size_t nodes) {
  for (const auto& r : report.node_latency)
    if (r.senders == 1 && r.nodes == nodes && r.latency.count > 0) return &r;
  return nullptr;
}

std::string jack_table(const Report& report) {
  if (!report.jack->skipped.empty())
    return fmt::format("\nEnd to end through JACK: skipped: {}\n", report.jack->skipped);
  std::string out;
  unsigned period = 0;
  for (const auto& r : report.jack->results) {
    if (r.period != period) {
      period = r.period;
      double rate = 0; // achieved: the first run of this period that sent anything
      for (const auto& each : report.jack->results)
        if (each.period == period && rate == 0) rate = each.rate_hz;
      out += fmt::format("\nEnd to end through JACK (period {} frames = {:.1f} ms, synchronous), "
                         "one sender at {}, microseconds in JACK's frame clock; "
                         "+socket: minus the socket backend's 1 of N above\n",
                         r.period, r.period_ms(),
                         rate > 0 ? fmt::format("{:.0f} msg/s", rate) : "(none sent)");
      out += fmt::format("{:>5} {:>7} {:>9} {:>6} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>7} "
                         "{:>12} {:>12} {:>6}\n",
                         "nodes", "sent", "delivered", "lost", "reord", "xruns", "p50", "p99",
                         "p99.9", "max", "mean", "p50 +socket", "p99 +socket", "clock");
    }
    if (r.latency.count == 0 && !r.error.empty()) {
      out += fmt::format("{:>5} failed: {}\n", r.nodes, r.error);
      continue;
    }
    const auto* socket = socket_one_of(report, r.nodes);
    auto plus = [&](double jack, double socket_us) {
      return fmt::format("{:+.0f}", jack - socket_us);
    };
    out += fmt::format("{:>5} {:>7} {:>9} {:>6} {:>6} {:>5} {:>6.0f} {:>6.0f} {:>6.0f} {:>6.0f} "
                       "{:>7.1f} {:>12} {:>12} {:>6.3f}{}\n",
                       r.nodes, r.sent, r.delivered, r.lost, r.reordered, r.xruns, r.latency.p50_us,
                       r.latency.p99_us, r.latency.p999_us, r.latency.max_us, r.latency.mean_us,
                       socket ? plus(r.latency.p50_us, socket->latency.p50_us) : "n/a",
                       socket ? plus(r.latency.p99_us, socket->latency.p99_us) : "n/a",
                       r.frame_clock_ratio, r.error.empty() ? "" : "  (" + r.error + ")");
  }
  return out;
}

std::string jack_json(const Report& report) {
  std::string out = fmt::format("  \"jack_latency\": {{\"skipped\": {}, \"results\": [",
                                json_string(report.jack->skipped));
  for (std::size_t i = 0; i < report.jack->results.size(); ++i) {
    const auto& r = report.jack->results[i];
    const auto* socket = socket_one_of(report, r.nodes);
    auto minus = [&](double LatencySummary::*field) {
      return socket ? fmt::format("{:.1f}", r.latency.*field - socket->latency.*field) : "null";
    };
    out += fmt::format(
        "{}\n    {{\"period_frames\": {}, \"period_ms\": {:.3f}, \"sample_rate\": {}, "
        "\"nodes\": {}, \"senders\": 1, \"rate_hz\": {:.1f}, \"sent\": {}, \"expected\": {}, "
        "\"delivered\": {}, \"lost\": {}, \"reordered\": {}, \"duplicates\": {}, "
        "\"xruns\": {}, \"write_failures\": {}, \"frame_clock_ratio\": {:.4f}, "
        "\"samples\": {}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}, "
        "\"mean_us\": {:.2f}, \"jack_minus_socket_p50_us\": {}, "
        "\"jack_minus_socket_p99_us\": {}, \"error\": {}}}",
        i ? "," : "", r.period, r.period_ms(), r.sample_rate, r.nodes, r.rate_hz, r.sent,
        r.expected, r.delivered, r.lost, r.reordered, r.duplicates, r.xruns, r.write_failures,
        r.frame_clock_ratio, r.latency.count, r.latency.p50_us, r.latency.p99_us, r.latency.p999_us,
        r.latency.max_us, r.latency.mean_us, minus(&LatencySummary::p50_us),
        minus(&LatencySummary::p99_us), json_string(r.error));
  }
  return out + "\n  ]},\n";
}

std::string fairness_table(const FairnessResult& r) {
  std::string out = fmt::format(
      "\nFairness: 2 honest senders at 1 kHz each -> 2 receivers, beside a 200 KB SysEx flood "
      "({} offered), a note-on flood ({} offered), a SUB that never reads and a TCP client that "
      "never reads\n",
      r.sysex_offered, r.notes_offered);
  out +=
      fmt::format("honest: {} sent, {} of {} delivered, {} lost (gaps {}); one way p50 {:.0f} "
                  "p99 {:.0f} p99.9 {:.0f} max {:.0f} us\n",
                  r.sent, r.delivered, r.expected, r.expected - std::min(r.expected, r.delivered),
                  r.gaps, r.latency.p50_us, r.latency.p99_us, r.latency.p999_us, r.latency.max_us);
  out += fmt::format("floods through to each honest receiver: {:.0f} SysEx, {:.0f} note-ons; hub "
                     "peak RSS {:.1f} MiB\n",
                     r.sysex_delivered, r.notes_delivered, r.hub_peak_rss_kib / 1024.0);
  if (!r.hub_stats.empty()) out += fmt::format("hub: {}\n", r.hub_stats);
  return out;
}

std::string fairness_json(const FairnessResult& r) {
  return fmt::format(
      "  \"fairness\": {{\"sent\": {}, \"expected\": {}, \"delivered\": {}, \"gaps\": {}, "
      "\"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}, "
      "\"sysex_offered\": {}, \"notes_offered\": {}, \"sysex_delivered\": {:.1f}, "
      "\"notes_delivered\": {:.1f}, \"hub_peak_rss_kib\": {}, \"hub_stats\": {}, "
      "\"hub_exit\": {}}},\n",
      r.sent, r.expected, r.delivered, r.gaps, r.latency.p50_us, r.latency.p99_us,
      r.latency.p999_us, r.latency.max_us, r.sysex_offered, r.notes_offered, r.sysex_delivered,
      r.notes_delivered, r.hub_peak_rss_kib, json_string(r.hub_stats), json_string(r.hub_exit));
}

std::string rtp_table(const RtpRun& run) {
  std::string out = fmt::format(
      "\nRTP-MIDI bridge: meshbench as an RTP-MIDI peer of node A (UDP {}), one sender at a "
      "time, 19-byte SysEx stamps; one-way microseconds\n",
      run.rtp_port);
  out +=
      fmt::format("{:<36} {:>7} {:>7} {:>9} {:>5} {:>5} {:>6} {:>6} {:>6} {:>7} {:>7}\n", "path",
                  "rate/s", "sent", "delivered", "lost", "dup", "p50", "p90", "p99", "max", "mean");
  for (const auto& r : run.results) {
    if (!r.error.empty() && r.sent == 0) {
      out += fmt::format("{:<36} failed: {}\n", r.label, r.error);
      continue;
    }
    out += fmt::format("{:<36} {:>7.0f} {:>7} {:>9} {:>5} {:>5} {:>6.0f} {:>6.0f} {:>6.0f} "
                       "{:>7.0f} {:>7.1f}{}\n",
                       r.label, r.rate_hz, r.sent, r.delivered, r.lost, r.duplicates,
                       r.latency.p50_us, r.latency.p90_us, r.latency.p99_us, r.latency.max_us,
                       r.latency.mean_us, r.error.empty() ? "" : "  (" + r.error + ")");
  }
  out += fmt::format("The peer's session: {} RTP packets lost from node A, {} malformed, {} in, "
                     "{} out\n",
                     run.peer.lost, run.peer.malformed, run.peer.packets_in, run.peer.packets_out);
  return out;
}

std::string rtp_json(const RtpRun& run) {
  std::string out =
      fmt::format("  \"rtp_latency\": {{\"rtp_port\": {}, \"hub_exit\": {}, "
                  "\"peer_lost\": {}, \"peer_malformed\": {}, \"results\": [",
                  run.rtp_port, json_string(run.hub_exit), run.peer.lost, run.peer.malformed);
  for (std::size_t i = 0; i < run.results.size(); ++i) {
    const auto& r = run.results[i];
    out +=
        fmt::format("{}\n    {{\"scenario\": {}, \"path\": {}, \"rate_hz\": {:.1f}, \"sent\": {}, "
                    "\"expected\": {}, \"delivered\": {}, \"lost\": {}, \"duplicates\": {}, "
                    "\"samples\": {}, \"p50_us\": {}, \"p90_us\": {}, \"p99_us\": {}, "
                    "\"p999_us\": {}, \"max_us\": {}, \"mean_us\": {:.2f}, \"error\": {}}}",
                    i ? "," : "", json_string(r.label), json_string(r.path), r.rate_hz, r.sent,
                    r.expected, r.delivered, r.lost, r.duplicates, r.latency.count,
                    r.latency.p50_us, r.latency.p90_us, r.latency.p99_us, r.latency.p999_us,
                    r.latency.max_us, r.latency.mean_us, json_string(r.error));
  }
  return out + "\n  ]},\n";
}

double ms(double us) {
  return us / 1000.0;
}

std::string join_name(const JoinResult& r) {
  return r.label == "connect" ? "join --connect" : "join by mDNS";
}

std::string failover_name(const FailoverResult& r) {
  return "failover, hub " + r.label;
}

std::string samples_ms(const std::vector<std::int64_t>& samples_us, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < samples_us.size(); ++i)
    out += fmt::format("{}{:.1f}", i ? separator : "", ms(static_cast<double>(samples_us[i])));
  return out;
}

std::string json_strings(const std::vector<std::string>& texts) {
  std::string out;
  for (std::size_t i = 0; i < texts.size(); ++i)
    out += (i ? ", " : "") + json_string(texts[i]);
  return "[" + out + "]";
}

// A failed trial ran past its bound: it counts against every goal.
bool complete(std::size_t samples, const std::vector<std::string>& failures) {
  return samples > 0 && failures.empty();
}

std::string format_trials(const Report& report) {
  std::string out =
      "\nJoin and failover: real nodes on 127.0.0.1, socket MIDI, one message per ms; "
      "milliseconds; a trial that failed misses its goal\n";
  out += fmt::format("{:<24} {:>6} {:>4} {:>8} {:>8}  {:<30} {}\n", "scenario", "trials", "ok",
                     "median", "worst", "goal", "met");
  std::string details;
  for (const auto& r : report.joins) {
    if (!r.skipped.empty()) {
      out += fmt::format("{:<24} skipped: {}\n", join_name(r), r.skipped);
      continue;
    }
    const Goal goal = join_goal(r);
    out += fmt::format("{:<24} {:>6} {:>4} {:>8.1f} {:>8.1f}  {:<30} {}\n", join_name(r), r.trials,
                       r.samples_us.size(), ms(r.summary.p50_us), ms(r.summary.max_us), goal.text,
                       goal.met ? "yes" : "NO");
    if (!r.samples_us.empty())
      details += fmt::format("  {}: {}\n", join_name(r), samples_ms(r.samples_us, " "));
  }
  for (const auto& r : report.failovers) {
    if (!r.skipped.empty()) {
      out += fmt::format("{:<24} skipped: {}\n", failover_name(r), r.skipped);
      continue;
    }
    const Goal goal = failover_goal(r);
    std::size_t by_sender = 0, by_receiver = 0;
    std::vector<std::int64_t> times;
    for (const auto& s : r.samples) {
      by_sender += s.new_hub == "sender";
      by_receiver += s.new_hub == "receiver";
      times.push_back(s.us);
    }
    out += fmt::format("{:<24} {:>6} {:>4} {:>8.1f} {:>8.1f}  {:<30} {}\n", failover_name(r),
                       r.trials, r.samples.size(), ms(r.summary.p50_us), ms(r.summary.max_us),
                       goal.text, goal.met ? "yes" : "NO");
    out += fmt::format("{:<24} silence at the receiver median {:.1f} worst {:.1f}; lost {} in {} "
                       "trial(s); new hub: the sender {}, the receiver {}\n",
                       "", ms(r.gap.p50_us), ms(r.gap.max_us), r.lost, r.trials_with_loss,
                       by_sender, by_receiver);
    if (!times.empty())
      details += fmt::format("  {}: {}\n", failover_name(r), samples_ms(times, " "));
  }
  if (!details.empty()) out += "Samples, ms:\n" + details;
  for (const auto& r : report.joins)
    for (const auto& f : r.failures)
      out += fmt::format("  {} failed: {}\n", join_name(r), f);
  for (const auto& r : report.failovers)
    for (const auto& f : r.failures)
      out += fmt::format("  {} failed: {}\n", failover_name(r), f);
  if (!report.trial_logs.empty()) out += fmt::format("  node logs kept in {}\n", report.trial_logs);
  return out;
}

std::string hub_over_baseline(const Report& report) {
  std::string out = "\nHub / baseline:";
  std::vector<std::string> labels;
  for (const auto& r : report.throughput)
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) labels.push_back(r.label);
  for (const auto& label : labels)
    out += fmt::format(" throughput {} {};", label, ratio_text(throughput_ratio(report, label)));
  labels.clear();
  for (const auto& r : report.latency)
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) labels.push_back(r.label);
  for (const auto& label : labels)
    out += fmt::format(" latency {} p50 {}, p99 {}, p99.9 {};", label,
                       ratio_text(latency_ratio(report, label, &LatencySummary::p50_us)),
                       ratio_text(latency_ratio(report, label, &LatencySummary::p99_us)),
                       ratio_text(latency_ratio(report, label, &LatencySummary::p999_us)));
  out.back() = '\n';
  return out;
}

} // namespace

Goal join_goal(const JoinResult& r) {
  const double bound_ms = r.label == "connect" ? 200 : 1500;
  return {fmt::format("every join <= {:.0f}", bound_ms),
          complete(r.samples_us.size(), r.failures) && ms(r.summary.max_us) <= bound_ms};
}

Goal failover_goal(const FailoverResult& r) {
  const bool done = complete(r.samples.size(), r.failures);
  if (r.label == "SIGKILL")
    return {"median <= 500, worst <= 1000",
            done && ms(r.summary.p50_us) <= 500 && ms(r.summary.max_us) <= 1000};
  return {"every one <= 100, no loss", done && ms(r.summary.max_us) <= 100 && r.lost == 0};
}

std::optional<double> throughput_ratio(const Report& report, const std::string& label) {
  const auto* hub = find(report.throughput, label, "hub");
  const auto* direct = find(report.throughput, label, "direct");
  if (!hub || !direct || direct->delivered_per_s <= 0) return std::nullopt;
  return hub->delivered_per_s / direct->delivered_per_s;
}

std::optional<double> latency_ratio(const Report& report, const std::string& label,
                                    double LatencySummary::*field) {
  const auto* hub = find(report.latency, label, "hub");
  const auto* direct = find(report.latency, label, "direct");
  if (!hub || !direct || direct->latency.*field <= 0) return std::nullopt;
  return hub->latency.*field / direct->latency.*field;
}

std::optional<PairRatios> pair_ratios(const Report& report) {
  const LatencyResult* pair = find(report.latency, "1->1", "direct");
  if (!pair || pair->latency.p99_us <= 0) return std::nullopt;
  PairRatios r;
  r.pair_p99_us = pair->latency.p99_us;
  for (const auto& hub : report.latency)
    if (hub.topology == "hub" && hub.senders == 1 && hub.receivers == 8)
      r.hub_1_to_8 = hub.latency.p99_us / pair->latency.p99_us;
  for (const auto& node : report.node_latency)
    if (node.senders == 1 && node.nodes == 8)
      r.nodes_1_of_8 = node.latency.p99_us / pair->latency.p99_us;
  return r;
}

std::string format_table(const Report& report) {
  const bool hub_ran = !report.throughput.empty() || !report.latency.empty();
  std::string out =
      hub_ran ? fmt::format("meshbench: {} (hub pid {}, {}) vs direct ZeroMQ XPUB->XSUB, tcp "
                            "127.0.0.1, {} cores shared\n",
                            report.midimesh, report.hub_pid, report.hub_exit, report.cores)
              : fmt::format("meshbench: {}, 127.0.0.1, {} cores shared\n", report.midimesh,
                            report.cores);
  if (!report.throughput.empty()) {
    out += fmt::format("\nThroughput: 3-byte MIDI, window {} in flight per receiver{}, batch {}\n",
                       report.window, report.window ? "" : " (unpaced)", report.batch);
    out += fmt::format("{:<10} {:<7} {:>4} {:>4} {:>10} {:>11} {:>9} {:>9} {:>7} {:>12} "
                       "{:>27}\n",
                       "scenario", "path", "send", "recv", "sent", "delivered", "drops", "gaps",
                       "secs", "deliv msg/s", "per receiver min/mean/max");
    for (const auto& r : report.throughput) {
      const Spread s = spread(r.receiver_per_s);
      out += fmt::format("{:<10} {:<7} {:>4} {:>4} {:>10} {:>11} {:>9} {:>9} {:>7.2f} {:>12.0f} "
                         "{:>27}{}\n",
                         r.label, r.topology, r.senders, r.receivers, r.sent, r.delivered, r.drops,
                         r.gaps, r.seconds, r.delivered_per_s,
                         fmt::format("{:.0f}/{:.0f}/{:.0f}", s.min, s.mean, s.max),
                         r.timed_out ? "  (time limit hit)" : "");
    }
  }
  if (!report.latency.empty()) {
    out += fmt::format("\nOne-way latency, envelope time_us to receipt, in-process clients, at "
                       "{:.0f} msg/s per sender, microseconds\n",
                       report.latency.front().achieved_rate_hz);
    out += fmt::format(
        "{:<10} {:<7} {:>4} {:>4} {:>7} {:>10} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7}\n", "scenario",
        "path", "send", "recv", "sent", "delivered", "drops", "p50", "p99", "p99.9", "max", "mean");
    for (const auto& r : report.latency)
      out += fmt::format("{:<10} {:<7} {:>4} {:>4} {:>7} {:>10} {:>6} {:>7.0f} {:>7.0f} {:>7.0f} "
                         "{:>7.0f} {:>7.1f}\n",
                         r.label, r.topology, r.senders, r.receivers, r.sent, r.delivered, r.drops,
                         r.latency.p50_us, r.latency.p99_us, r.latency.p999_us, r.latency.max_us,
                         r.latency.mean_us);
  }
  if (!report.node_latency.empty()) {
    out += "\nReal node processes (--midi-api socket), one-way from the sending node taking a "
           "message in to another node playing it out, microseconds\n";
    out += fmt::format("{:<14} {:>5} {:>4} {:>7} {:>7} {:>9} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7}\n",
                       "scenario", "nodes", "send", "rate/s", "sent", "delivered", "drops", "p50",
                       "p99", "p99.9", "max", "mean");
    for (const auto& r : report.node_latency)
      out += fmt::format(
          "{:<14} {:>5} {:>4} {:>7.0f} {:>7} {:>9} {:>6} {:>6.0f} {:>6.0f} {:>6.0f} {:>7.0f} "
          "{:>7.1f}\n",
          r.label, r.nodes, r.senders, r.rate_hz, r.sent, r.delivered, r.drops, r.latency.p50_us,
          r.latency.p99_us, r.latency.p999_us, r.latency.max_us, r.latency.mean_us);
  }
  if (!report.node_throughput.empty()) {
    out += "\nReal node processes, throughput (19-byte SysEx); CPU ms per 1,000 messages\n";
    out += fmt::format("{:<10} {:>5} {:>4} {:>4} {:>9} {:>10} {:>8} {:>7} {:>11} {:>6} {:>6} "
                       "{:>6}\n",
                       "scenario", "nodes", "send", "recv", "sent", "delivered", "drops", "secs",
                       "deliv/s", "hub", "sender", "recvr");
    for (const auto& r : report.node_throughput)
      out += fmt::format("{:<10} {:>5} {:>4} {:>4} {:>9} {:>10} {:>8} {:>7.2f} {:>11.0f} {:>6.2f} "
                         "{:>6.2f} {:>6.2f}{}\n",
                         r.label, r.nodes, r.senders, r.receivers, r.sent, r.delivered, r.drops,
                         r.seconds, r.delivered_per_s, r.hub_ms_per_1000, r.sender_ms_per_1000,
                         r.receiver_ms_per_1000, r.timed_out ? "  (time limit hit)" : "");
  }
  if (report.idle)
    out += fmt::format("\nIdle over {:.1f} s with {} nodes joined: busiest node {:.3f}% CPU, hub "
                       "{:.3f}%; wake-ups of the most wakeful node {:.0f}/s, its main thread "
                       "{:.0f}/s\n",
                       report.idle->seconds, report.idle->nodes, report.idle->node_cpu_percent,
                       report.idle->hub_cpu_percent, report.idle->node_wakeups_per_s,
                       report.idle->node_main_wakeups_per_s);
  if (report.hub_peak_rss_kib || report.node_peak_rss_kib)
    out += fmt::format("Peak RSS (VmHWM): hub {:.1f} MiB, largest node {:.1f} MiB\n",
                       report.hub_peak_rss_kib / 1024.0, report.node_peak_rss_kib / 1024.0);
  if (report.tcp_echo_rtt) {
    const auto& t = *report.tcp_echo_rtt;
    out += fmt::format("TCP echo on 127.0.0.1 (19 bytes, paced): round trip p50 {:.0f} p99 {:.0f} "
                       "p99.9 {:.0f} max {:.0f} us ({} samples); one way ~ half\n",
                       t.p50_us, t.p99_us, t.p999_us, t.max_us, t.count);
  }
  if (const auto r = pair_ratios(report))
    out += fmt::format("p99 over the plain ZeroMQ pair's ({:.0f} us, 1->1 direct): through the hub "
                       "1->8 {}; real nodes, 1 sender of 8 {}\n",
                       r->pair_p99_us, ratio_text(r->hub_1_to_8), ratio_text(r->nodes_1_of_8));
  if (report.jack) out += jack_table(report);
  if (report.rtp) out += rtp_table(*report.rtp);
  if (report.fairness) out += fairness_table(*report.fairness);
  if (hub_ran) out += hub_over_baseline(report);
  if (!report.joins.empty() || !report.failovers.empty()) out += format_trials(report);
  return out;
}

std::string format_json(const Report& report) {
  std::string out = "{\n";
  out += fmt::format("  \"midimesh\": {},\n  \"command\": {},\n  \"cores\": {},\n"
                     "  \"hub_pid\": {},\n  \"hub_exit\": {},\n  \"window\": {},\n"
                     "  \"batch\": {},\n",
                     json_string(report.midimesh), json_string(report.command), report.cores,
                     report.hub_pid, json_string(report.hub_exit), report.window, report.batch);
  out += "  \"throughput\": [";
  for (std::size_t i = 0; i < report.throughput.size(); ++i) {
    const auto& r = report.throughput[i];
    std::string rates;
    for (std::size_t k = 0; k < r.receiver_per_s.size(); ++k)
      rates += fmt::format("{}{:.1f}", k ? ", " : "", r.receiver_per_s[k]);
    out += fmt::format(
        "{}\n    {{\"scenario\": {}, \"path\": {}, \"senders\": {}, \"receivers\": {}, "
        "\"sent\": {}, \"expected\": {}, \"delivered\": {}, \"drops\": {}, \"gaps\": {}, "
        "\"send_seconds\": {:.6f}, \"seconds\": {:.6f}, \"delivered_per_s\": {:.1f}, "
        "\"receiver_per_s\": [{}], \"timed_out\": {}}}",
        i ? "," : "", json_string(r.label), json_string(r.topology), r.senders, r.receivers, r.sent,
        r.expected, r.delivered, r.drops, r.gaps, r.send_seconds, r.seconds, r.delivered_per_s,
        rates, r.timed_out);
  }
  out += "\n  ],\n  \"latency\": [";
  for (std::size_t i = 0; i < report.latency.size(); ++i) {
    const auto& r = report.latency[i];
    out += fmt::format("{}\n    {{\"scenario\": {}, \"path\": {}, \"senders\": {}, "
                       "\"receivers\": {}, \"sent\": {}, "
                       "\"expected\": {}, \"delivered\": {}, \"drops\": {}, \"gaps\": {}, "
                       "\"rate_hz\": {:.1f}, \"samples\": {}, \"p50_us\": {}, \"p99_us\": {}, "
                       "\"p999_us\": {}, \"max_us\": {}, \"mean_us\": {:.2f}}}",
                       i ? "," : "", json_string(r.label), json_string(r.topology), r.senders,
                       r.receivers, r.sent, r.expected, r.delivered, r.drops, r.gaps,
                       r.achieved_rate_hz, r.latency.count, r.latency.p50_us, r.latency.p99_us,
                       r.latency.p999_us, r.latency.max_us, r.latency.mean_us);
  }
  out += "\n  ],\n  \"node_latency\": [";
  for (std::size_t i = 0; i < report.node_latency.size(); ++i) {
    const auto& r = report.node_latency[i];
    out += fmt::format("{}\n    {{\"scenario\": {}, \"nodes\": {}, \"senders\": {}, "
                       "\"rate_hz\": {:.1f}, \"sent\": {}, \"expected\": {}, \"delivered\": {}, "
                       "\"drops\": {}, \"samples\": {}, \"p50_us\": {}, \"p99_us\": {}, "
                       "\"p999_us\": {}, \"max_us\": {}, \"mean_us\": {:.2f}}}",
                       i ? "," : "", json_string(r.label), r.nodes, r.senders, r.rate_hz, r.sent,
                       r.expected, r.delivered, r.drops, r.latency.count, r.latency.p50_us,
                       r.latency.p99_us, r.latency.p999_us, r.latency.max_us, r.latency.mean_us);
  }
  out += "\n  ],\n  \"node_throughput\": [";
  for (std::size_t i = 0; i < report.node_throughput.size(); ++i) {
    const auto& r = report.node_throughput[i];
    out +=
        fmt::format("{}\n    {{\"scenario\": {}, \"nodes\": {}, \"senders\": {}, "
                    "\"receivers\": {}, \"sent\": {}, \"expected\": {}, \"delivered\": {}, "
                    "\"drops\": {}, \"seconds\": {:.6f}, \"delivered_per_s\": {:.1f}, "
                    "\"hub_cpu_ms_per_1000\": {:.4f}, \"sender_cpu_ms_per_1000\": {:.4f}, "
                    "\"receiver_cpu_ms_per_1000\": {:.4f}, \"timed_out\": {}}}",
                    i ? "," : "", json_string(r.label), r.nodes, r.senders, r.receivers, r.sent,
                    r.expected, r.delivered, r.drops, r.seconds, r.delivered_per_s,
                    r.hub_ms_per_1000, r.sender_ms_per_1000, r.receiver_ms_per_1000, r.timed_out);
  }
  out += "\n  ],\n";
  if (report.idle)
    out += fmt::format("  \"idle\": {{\"seconds\": {:.3f}, \"nodes\": {}, "
                       "\"node_cpu_percent\": {:.4f}, \"hub_cpu_percent\": {:.4f}, "
                       "\"node_wakeups_per_s\": {:.1f}, \"node_main_wakeups_per_s\": {:.1f}}},\n",
                       report.idle->seconds, report.idle->nodes, report.idle->node_cpu_percent,
                       report.idle->hub_cpu_percent, report.idle->node_wakeups_per_s,
                       report.idle->node_main_wakeups_per_s);
  out += fmt::format("  \"hub_peak_rss_kib\": {}, \"node_peak_rss_kib\": {},\n",
                     report.hub_peak_rss_kib, report.node_peak_rss_kib);
  if (report.tcp_echo_rtt)
    out += fmt::format("  \"tcp_echo_rtt\": {{\"samples\": {}, \"p50_us\": {}, \"p99_us\": {}, "
                       "\"p999_us\": {}, \"max_us\": {}}},\n",
                       report.tcp_echo_rtt->count, report.tcp_echo_rtt->p50_us,
                       report.tcp_echo_rtt->p99_us, report.tcp_echo_rtt->p999_us,
                       report.tcp_echo_rtt->max_us);
  if (const auto r = pair_ratios(report))
    out += fmt::format("  \"p99_over_pair\": {{\"pair_p99_us\": {:.1f}, \"hub_1_to_8\": {}, "
                       "\"nodes_1_of_8\": {}}},\n",
                       r->pair_p99_us, json_number(r->hub_1_to_8), json_number(r->nodes_1_of_8));
  if (report.jack) out += jack_json(report);
  if (report.rtp) out += rtp_json(*report.rtp);
  if (report.fairness) out += fairness_json(*report.fairness);
  out += "  \"join\": [";
  for (std::size_t i = 0; i < report.joins.size(); ++i) {
    const auto& r = report.joins[i];
    const Goal goal = join_goal(r);
    out += fmt::format("{}\n    {{\"scenario\": {}, \"skipped\": {}, \"trials\": {}, \"ok\": {}, "
                       "\"median_ms\": {:.3f}, \"worst_ms\": {:.3f}, \"samples_ms\": [{}], "
                       "\"goal\": {}, \"goal_met\": {}, \"failures\": {}}}",
                       i ? "," : "", json_string(r.label),
                       r.skipped.empty() ? "null" : json_string(r.skipped), r.trials,
                       r.samples_us.size(), ms(r.summary.p50_us), ms(r.summary.max_us),
                       samples_ms(r.samples_us, ", "), json_string(goal.text),
                       r.skipped.empty() && goal.met, json_strings(r.failures));
  }
  out += "\n  ],\n  \"failover\": [";
  for (std::size_t i = 0; i < report.failovers.size(); ++i) {
    const auto& r = report.failovers[i];
    const Goal goal = failover_goal(r);
    std::string samples;
    for (std::size_t k = 0; k < r.samples.size(); ++k) {
      const auto& s = r.samples[k];
      samples +=
          fmt::format("{}{{\"ms\": {:.3f}, \"silence_ms\": {:.3f}, "
                      "\"last_before_ms\": {:.3f}, \"played\": {}, \"lost\": {}, "
                      "\"duplicates\": {}, \"new_hub\": {}}}",
                      k ? ", " : "", ms(static_cast<double>(s.us)),
                      ms(static_cast<double>(s.gap_us)), ms(static_cast<double>(s.last_before_us)),
                      s.played, s.lost, s.duplicates, json_string(s.new_hub));
    }
    out += fmt::format(
        "{}\n    {{\"scenario\": {}, \"skipped\": {}, \"trials\": {}, \"ok\": {}, "
        "\"median_ms\": {:.3f}, \"worst_ms\": {:.3f}, "
        "\"silence_median_ms\": {:.3f}, \"silence_worst_ms\": {:.3f}, "
        "\"lost\": {}, \"trials_with_loss\": {}, \"goal\": {}, \"goal_met\": {}, "
        "\"samples\": [{}], \"failures\": {}}}",
        i ? "," : "", json_string(r.label), r.skipped.empty() ? "null" : json_string(r.skipped),
        r.trials, r.samples.size(), ms(r.summary.p50_us), ms(r.summary.max_us), ms(r.gap.p50_us),
        ms(r.gap.max_us), r.lost, r.trials_with_loss, json_string(goal.text),
        r.skipped.empty() && goal.met, samples, json_strings(r.failures));
  }
  out += "\n  ],\n";
  if (!report.trial_logs.empty())
    out += fmt::format("  \"trial_logs\": {},\n", json_string(report.trial_logs));
  out += "  \"hub_over_baseline\": {";
  std::vector<std::string> parts;
  for (const auto& r : report.throughput)
    if (r.topology == "hub")
      if (auto ratio = throughput_ratio(report, r.label))
        parts.push_back(fmt::format("{}: {:.4f}", json_string("throughput " + r.label), *ratio));
  const std::pair<const char*, double LatencySummary::*> fields[] = {
      {"latency p50", &LatencySummary::p50_us},
      {"latency p99", &LatencySummary::p99_us},
      {"latency p99.9", &LatencySummary::p999_us}};
  for (const auto& r : report.latency)
    if (r.topology == "hub")
      for (const auto& [name, field] : fields)
        if (auto ratio = latency_ratio(report, r.label, field))
          parts.push_back(
              fmt::format("{}: {:.4f}", json_string(std::string(name) + " " + r.label), *ratio));
  for (std::size_t i = 0; i < parts.size(); ++i)
    out += (i ? ", " : "") + parts[i];
  return out + "}\n}\n";
}

} // namespace meshbench
