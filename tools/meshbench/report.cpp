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

struct Spread {
  double min = 0, mean = 0, max = 0;
};

Spread spread(const std::vector<double>& values) {
  if (values.empty()) return {};
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return {*lo, std::accumulate(values.begin(), values.end(), 0.0) / values.size(), *hi};
}

} // namespace

std::optional<double> throughput_ratio(const Report& report, const std::string& label) {
  const auto* hub = find(report.throughput, label, "hub");
  const auto* direct = find(report.throughput, label, "direct");
  if (!hub || !direct || direct->delivered_per_s <= 0) return std::nullopt;
  return hub->delivered_per_s / direct->delivered_per_s;
}

std::optional<double> latency_ratio(const Report& report, double LatencySummary::*field) {
  if (report.latency.empty()) return std::nullopt;
  const std::string& label = report.latency.front().label;
  const auto* hub = find(report.latency, label, "hub");
  const auto* direct = find(report.latency, label, "direct");
  if (!hub || !direct || direct->latency.*field <= 0) return std::nullopt;
  return hub->latency.*field / direct->latency.*field;
}

std::string format_table(const Report& report) {
  std::string out = fmt::format(
      "meshbench: {} (hub pid {}, {}) vs direct ZeroMQ PUB->SUB, tcp 127.0.0.1, {} cores shared\n",
      report.midimesh, report.hub_pid, report.hub_exit, report.cores);
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
    const auto& first = report.latency.front();
    out += fmt::format("\nOne-way latency, envelope time_us to receipt: 1 sender at {:.0f} msg/s "
                       "for {:.1f} s, {} receivers, microseconds\n",
                       first.achieved_rate_hz,
                       static_cast<double>(first.sent) / std::max(first.achieved_rate_hz, 1.0),
                       first.receivers);
    out += fmt::format("{:<7} {:>7} {:>10} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7}\n", "path", "sent",
                       "delivered", "drops", "p50", "p99", "p99.9", "max", "mean");
    for (const auto& r : report.latency)
      out += fmt::format("{:<7} {:>7} {:>10} {:>6} {:>7.0f} {:>7.0f} {:>7.0f} {:>7.0f} {:>7.1f}\n",
                         r.topology, r.sent, r.delivered, r.drops, r.latency.p50_us,
                         r.latency.p99_us, r.latency.p999_us, r.latency.max_us, r.latency.mean_us);
  }
  out += "\nHub / baseline:";
  std::vector<std::string> labels;
  for (const auto& r : report.throughput)
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) labels.push_back(r.label);
  for (const auto& label : labels)
    out += fmt::format(" throughput {} {};", label, ratio_text(throughput_ratio(report, label)));
  out += fmt::format(" latency p50 {}, p99 {}, p99.9 {}\n",
                     ratio_text(latency_ratio(report, &LatencySummary::p50_us)),
                     ratio_text(latency_ratio(report, &LatencySummary::p99_us)),
                     ratio_text(latency_ratio(report, &LatencySummary::p999_us)));
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
    out += fmt::format("{}\n    {{\"scenario\": {}, \"path\": {}, \"receivers\": {}, \"sent\": {}, "
                       "\"expected\": {}, \"delivered\": {}, \"drops\": {}, \"gaps\": {}, "
                       "\"rate_hz\": {:.1f}, \"samples\": {}, \"p50_us\": {}, \"p99_us\": {}, "
                       "\"p999_us\": {}, \"max_us\": {}, \"mean_us\": {:.2f}}}",
                       i ? "," : "", json_string(r.label), json_string(r.topology), r.receivers,
                       r.sent, r.expected, r.delivered, r.drops, r.gaps, r.achieved_rate_hz,
                       r.latency.count, r.latency.p50_us, r.latency.p99_us, r.latency.p999_us,
                       r.latency.max_us, r.latency.mean_us);
  }
  out += "\n  ],\n  \"hub_over_baseline\": {";
  std::vector<std::string> parts;
  for (const auto& r : report.throughput)
    if (r.topology == "hub")
      if (auto ratio = throughput_ratio(report, r.label))
        parts.push_back(fmt::format("{}: {:.4f}", json_string("throughput " + r.label), *ratio));
  const std::pair<const char*, double LatencySummary::*> fields[] = {
      {"latency p50", &LatencySummary::p50_us},
      {"latency p99", &LatencySummary::p99_us},
      {"latency p99.9", &LatencySummary::p999_us}};
  for (const auto& [name, field] : fields)
    if (auto ratio = latency_ratio(report, field))
      parts.push_back(fmt::format("{}: {:.4f}", json_string(name), *ratio));
  for (std::size_t i = 0; i < parts.size(); ++i)
    out += (i ? ", " : "") + parts[i];
  return out + "}\n}\n";
}

} // namespace meshbench
