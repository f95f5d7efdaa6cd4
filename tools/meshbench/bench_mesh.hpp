#pragma once
// The clients of one scenario: publishers, receivers each in a thread of its own, wired either
// through a hub or straight PUB to SUB (the baseline). The destructor stops and joins every
// receiver thread, so a scenario that throws leaves no thread behind.

#include "publisher.hpp"
#include "receiver.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace meshbench {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Topology {
  std::string name; // "hub" or "direct", as reported
  // Through a hub: publishers connect to publish_endpoint, receivers to subscribe_endpoint.
  // Without one (empty), each publisher listens and every receiver connects to each of them.
  std::string publish_endpoint;
  std::string subscribe_endpoint;
  std::function<bool()> alive = [] { return true; }; // false once the hub process has died
  bool via_hub() const { return !publish_endpoint.empty(); }
};

struct MeshShape {
  std::size_t senders = 1;
  std::size_t receivers = 8;
  // All-to-all: client i both sends and receives (and, like a node, never hears itself);
  // otherwise senders and receivers are different clients.
  bool senders_receive = false;
  std::size_t latency_capacity = 0; // per receiver
  // Senders the receivers account for that the caller runs itself, on sockets of its own (client
  // indices after the mesh's senders): probe() does not wait for them.
  std::size_t outside_senders = 0;
};

class BenchMesh {
public:
  // Receivers run until stop_and_join() or until `deadline`, whichever comes first.
  BenchMesh(zmq::context_t& context, const Topology& topology, const MeshShape& shape,
            std::chrono::steady_clock::time_point deadline);
  ~BenchMesh();
  BenchMesh(const BenchMesh&) = delete;
  BenchMesh& operator=(const BenchMesh&) = delete;

  // Publishes probes until every receiver has heard every sender it should (ZeroMQ connects and
  // subscribes asynchronously: a message sent before that is lost, "slow joiner").
  // Throws BenchError after `limit`, or at once if the hub dies.
  void probe(std::chrono::milliseconds limit);

  Publisher& publisher(std::size_t s) { return *publishers_[s]; }
  // For the ids of outside senders: client_id(nonce(), index).
  std::uint32_t nonce() const noexcept { return nonce_; }
  std::size_t senders() const noexcept { return publishers_.size(); }
  const std::vector<std::unique_ptr<Receiver>>& receivers() const noexcept { return receivers_; }
  bool hears(std::size_t receiver, std::size_t sender) const noexcept {
    return !shape_.senders_receive || receiver != sender;
  }
  // The fewest measured messages of `sender` any of its receivers has got so far: what the
  // sender may count as delivered when it paces itself.
  std::uint64_t slowest_measured_from(std::size_t sender) const noexcept;
  std::uint64_t measured_total() const noexcept;

  void stop_and_join() noexcept;
  bool receiver_failed() const noexcept { return failed_.load(); }

private:
  MeshShape shape_;
  std::uint32_t nonce_;
  std::vector<std::unique_ptr<Publisher>> publishers_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::function<bool()> alive_;
};

} // namespace meshbench
