#include "bench_mesh.hpp"

#include "client_id.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <limits>

namespace meshbench {

BenchMesh::BenchMesh(zmq::context_t& context, const Topology& topology, const MeshShape& shape,
                     std::chrono::steady_clock::time_point deadline)
    : shape_(shape), nonce_(make_run_nonce()), alive_(topology.alive) {
  // A nonce per scenario: late messages of an earlier scenario cannot be counted in this one.
  const std::uint32_t nonce = nonce_;
  std::vector<std::string> direct_endpoints;
  for (std::size_t s = 0; s < shape.senders; ++s) {
    auto& p = publishers_.emplace_back(std::make_unique<Publisher>(context, client_id(nonce, s)));
    if (topology.via_hub())
      p->connect(topology.publish_endpoint);
    else
      direct_endpoints.push_back(p->bind_loopback());
  }
  const std::size_t accounted = shape.senders + shape.outside_senders;
  const std::size_t first_receiver = shape.senders_receive ? 0 : accounted;
  for (std::size_t r = 0; r < shape.receivers; ++r) {
    auto& receiver = receivers_.emplace_back(std::make_unique<Receiver>(
        context, client_id(nonce, first_receiver + r), nonce, accounted, shape.latency_capacity));
    if (topology.via_hub())
      receiver->connect(topology.subscribe_endpoint);
    else
      for (const auto& endpoint : direct_endpoints)
        receiver->connect(endpoint);
  }
  // Each receiver's socket is handed to its thread here and touched by no other thread after.
  for (auto& receiver : receivers_)
    threads_.emplace_back([this, r = receiver.get(), deadline] {
      try {
        r->run(stop_, deadline);
      } catch (const std::exception&) {
        failed_ = true; // reported as a failed scenario by the sending thread
      }
    });
}

BenchMesh::~BenchMesh() {
  stop_and_join();
}

void BenchMesh::stop_and_join() noexcept {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void BenchMesh::probe(std::chrono::milliseconds limit) {
  const std::uint8_t clock_tick[] = {probe_status};
  const auto give_up = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool all_heard = true;
    for (std::size_t r = 0; r < receivers_.size(); ++r)
      for (std::size_t s = 0; s < publishers_.size(); ++s)
        if (hears(r, s) && !receivers_[r]->heard(s)) all_heard = false;
    if (all_heard) return;
    if (!alive_()) throw BenchError("the hub process exited (see its log)");
    if (failed_) throw BenchError("a receiver thread failed");
    if (std::chrono::steady_clock::now() > give_up)
      throw BenchError(
          fmt::format("receivers did not hear every sender within {} ms", limit.count()));
    for (auto& p : publishers_)
      p->publish(clock_tick, wall_us());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::uint64_t BenchMesh::slowest_measured_from(std::size_t sender) const noexcept {
  std::uint64_t slowest = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t r = 0; r < receivers_.size(); ++r)
    if (hears(r, sender)) slowest = std::min(slowest, receivers_[r]->measured_from(sender));
  return slowest;
}

std::uint64_t BenchMesh::measured_total() const noexcept {
  std::uint64_t total = 0;
  for (const auto& r : receivers_)
    total += r->measured_total();
  return total;
}

} // namespace meshbench
