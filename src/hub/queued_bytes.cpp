#include "hub/queued_bytes.hpp"

#include <utility>

namespace midimesh::hub {

struct QueuedBytes::Ledger {
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::size_t> refs{1}; // the QueuedBytes, and each message not yet freed
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

namespace {

struct Wrapped {
  zmq::message_t body; // its content stays where ZeroMQ received it: nothing is copied
  std::size_t counted;
  void* ledger;
};

} // namespace

QueuedBytes::QueuedBytes(const QueueLimits& limits) : limits_(limits), ledger_(new Ledger) {}

QueuedBytes::~QueuedBytes() {
  ledger_->release();
}

bool QueuedBytes::fits(const QueueLimits& limits, std::size_t held, std::size_t bytes) noexcept {
  const std::size_t cost = bytes + limits.overhead;
  const std::size_t limit = bytes > limits.large_from ? limits.large : limits.total;
  return held <= limit && cost <= limit - held;
}

std::size_t QueuedBytes::held() const noexcept {
  return ledger_->bytes.load(std::memory_order_relaxed);
}

zmq::message_t QueuedBytes::track(zmq::message_t&& body) {
  auto* wrapped = new Wrapped{std::move(body), 0, ledger_};
  wrapped->counted = wrapped->body.size() + limits_.overhead;
  ledger_->refs.fetch_add(1, std::memory_order_relaxed);
  const std::size_t now =
      ledger_->bytes.fetch_add(wrapped->counted, std::memory_order_relaxed) + wrapped->counted;
  if (now > peak_) peak_ = now;
  // Runs on ZeroMQ's I/O thread or ours, once the last receiver's queue lets go of it.
  auto release = [](void*, void* hint) {
    auto* w = static_cast<Wrapped*>(hint);
    auto* ledger = static_cast<Ledger*>(w->ledger);
    ledger->bytes.fetch_sub(w->counted, std::memory_order_relaxed);
    delete w;
    ledger->release();
  };
  // An empty body still needs a non-null pointer for ZeroMQ to call us back.
  static std::uint8_t empty = 0;
  void* data = wrapped->body.size() ? wrapped->body.data() : &empty;
  return zmq::message_t(data, wrapped->body.size(), release, wrapped);
}

} // namespace midimesh::hub
