#include "node_fleet.hpp"

#include "bench_mesh.hpp"
#include "receiver.hpp"
#include "stamp.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <limits>
#include <poll.h>

namespace meshbench {
namespace {

constexpr auto listen_wait = std::chrono::milliseconds(20);
constexpr int drain_turns = 16; // reads per node output before the next node's

} // namespace

NodeFleet::NodeFleet(const FleetConfig& config)
    : played_(config.nodes, 0),
      heard_(std::make_unique<std::atomic<std::uint64_t>[]>(config.nodes * config.nodes)),
      probed_(std::make_unique<std::atomic<bool>[]>(config.nodes * config.nodes)),
      on_foreign_(config.on_foreign) {
  if (config.nodes > 127) throw BenchError("at most 127 nodes (one 7-bit byte names each)");
  const std::string hub = fmt::format("127.0.0.1:{}", config.hub_port);
  for (std::size_t n = 0; n < config.nodes; ++n) {
    const std::string path = fmt::format("{}/node{}", config.dir, n);
    // Listening before the node starts: its first message played already finds us.
    outputs_.emplace_back(path);
    inputs_.emplace_back(path); // connects once the node listens
    std::vector<std::string> args = {config.midimesh, "--connect",   hub,  "--midi-api",
                                     "socket",        "--port-name", path, "--log-level",
                                     "warning"};
    args.insert(args.end(), {"--name", fmt::format("bench-node{}", n), "--mesh", bench_mesh()});
    if (n < config.extra_args.size())
      args.insert(args.end(), config.extra_args[n].begin(), config.extra_args[n].end());
    nodes_.push_back(std::make_unique<ChildProcess>(std::move(args), config.log_path, true));
  }
  // The output sockets are handed to the listening thread here and touched by no other after.
  listener_ = std::thread([this] {
    try {
      listen();
    } catch (const std::exception&) {
      failed_ = true;
    }
  });
}

NodeFleet::~NodeFleet() {
  stop_listening();
  for (auto& node : nodes_)
    node->terminate(); // all at once, then collect each
  for (auto& node : nodes_)
    (void)node->stop();
}

bool NodeFleet::all_running() noexcept {
  return std::all_of(nodes_.begin(), nodes_.end(), [](auto& n) { return n->running(); });
}

void NodeFleet::stop_listening() noexcept {
  stop_ = true;
  if (listener_.joinable()) listener_.join();
}

bool NodeFleet::send(std::size_t node, std::uint8_t kind) {
  const auto m = encode_stamp({kind, static_cast<std::uint8_t>(node), played_[node], steady_us()});
  return inputs_[node].play(m);
}

bool NodeFleet::play(std::size_t node) {
  if (!send(node, Stamp::measured)) return false;
  ++played_[node];
  return true;
}

void NodeFleet::probe(std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  const std::size_t n = nodes_.size();
  for (;;) {
    bool all = true;
    for (std::size_t r = 0; r < n && all; ++r)
      for (std::size_t s = 0; s < n && all; ++s)
        if (r != s && !probed_[r * n + s].load(std::memory_order_acquire)) all = false;
    if (all) return;
    if (!all_running()) throw BenchError("a node process exited (see the node log)");
    if (failed_) throw BenchError("the listening thread failed");
    if (std::chrono::steady_clock::now() > give_up)
      throw BenchError(
          fmt::format("{} nodes did not all hear each other within {} ms", n, limit.count()));
    for (std::size_t s = 0; s < n; ++s)
      (void)send(s, Stamp::probe);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NodeFleet::stop_measuring() {
  measuring_.store(false);
  // Two full turns of the listener after the store: it no longer touches the latencies.
  const std::uint64_t turn = listener_turns_.load();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (listener_turns_.load() < turn + 2) {
    if (failed_ || stop_ || std::chrono::steady_clock::now() > give_up)
      throw BenchError("the listening thread does not answer");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void NodeFleet::start_measuring(std::size_t latency_capacity) {
  stop_measuring();
  latencies_us_.clear();
  latencies_us_.reserve(latency_capacity); // no allocation while measuring
  latency_capacity_ = latency_capacity;
  for (std::size_t i = 0; i < nodes_.size() * nodes_.size(); ++i)
    heard_[i].store(0);
  std::fill(played_.begin(), played_.end(), 0);
  measuring_.store(true);
}

std::uint64_t NodeFleet::heard(std::size_t receiver, std::size_t sender) const noexcept {
  return cell(receiver, sender).load(std::memory_order_relaxed);
}

std::uint64_t NodeFleet::heard_total() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < nodes_.size() * nodes_.size(); ++i)
    total += heard_[i].load(std::memory_order_relaxed);
  return total;
}

std::uint64_t NodeFleet::slowest_from(std::size_t sender) const noexcept {
  std::uint64_t slowest = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t r = 0; r < nodes_.size(); ++r)
    if (r != sender) slowest = std::min(slowest, heard(r, sender));
  return slowest;
}

void NodeFleet::listen() {
  std::vector<pollfd> fds;
  std::vector<std::span<const std::uint8_t>> messages;
  while (!stop_.load(std::memory_order_relaxed)) {
    bool any = false;
    for (std::size_t r = 0; r < outputs_.size(); ++r)
      for (int turn = 0; turn < drain_turns; ++turn) {
        messages.clear();
        if (outputs_[r].receive(messages) <= 0) break;
        for (auto message : messages)
          on_output(r, message);
        any = true;
      }
    listener_turns_.fetch_add(1);
    if (any) continue;
    fds.clear();
    for (const auto& out : outputs_) {
      fds.push_back({out.listen_fd(), POLLIN, 0});
      fds.push_back({out.connection_fd(), POLLIN, 0}); // -1: ignored by poll
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(listen_wait.count())) <= 0) continue;
    for (std::size_t r = 0; r < outputs_.size(); ++r)
      if (fds[2 * r].revents & POLLIN) outputs_[r].accept();
  }
}

void NodeFleet::on_output(std::size_t receiver, std::span<const std::uint8_t> message) {
  const std::size_t n = nodes_.size();
  const auto stamp = decode_stamp(message);
  if (!stamp || stamp->source >= n) {
    if (stamp && on_foreign_) on_foreign_(receiver, *stamp, steady_us());
    ++foreign_; // e.g. note-offs a node releases for a peer that left
    return;
  }
  const std::size_t sender = stamp->source;
  if (stamp->kind == Stamp::probe) {
    probed_[receiver * n + sender].store(true, std::memory_order_release);
    return;
  }
  if (stamp->kind != Stamp::measured || !measuring_.load(std::memory_order_relaxed)) return;
  const std::uint64_t now = steady_us();
  auto& count = cell(receiver, sender);
  count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  last_arrival_us_.store(now, std::memory_order_relaxed);
  if (latencies_us_.size() < latency_capacity_)
    latencies_us_.push_back(static_cast<std::int64_t>(now - stamp->time_us));
}

} // namespace meshbench
