#pragma once
// What the messages the hub has forwarded still cost while they wait in receivers' queues.
// ZeroMQ bounds each receiver's queue by a count of messages (SNDHWM), not by bytes: 50,000
// queued SysEx dumps of 200 KB are 10 GB. The XPUB shares one message's content between every
// receiver's queue and frees it once the last receiver has sent or dropped it, so the hub's
// memory is the content of the distinct messages still queued anywhere. Each forwarded body is
// handed to ZeroMQ wrapped in a buffer of ours whose release (on whichever thread ZeroMQ frees
// it) takes its bytes off the tally; the hub forwards a message only while the tally leaves
// room for it, so that content never exceeds the limit, whatever receivers do.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <zmq.hpp>

namespace midimesh::hub {

struct QueueLimits {
  // All queued content together. Small messages (notes, controllers) may use all of it, large
  // ones (SysEx) only up to `large`: a receiver that holds large ones cannot starve the notes.
  std::size_t total = 48u << 20;
  std::size_t large = 32u << 20;
  std::size_t large_from = 4096; // bytes: over this a message is large
  // Counted per message besides its bytes: our wrapper and ZeroMQ's content header.
  std::size_t overhead = 192;
};

class QueuedBytes {
public:
  explicit QueuedBytes(const QueueLimits& limits = {});
  ~QueuedBytes();
  QueuedBytes(const QueuedBytes&) = delete;
  QueuedBytes& operator=(const QueuedBytes&) = delete;

  // Pure: whether a message of `bytes` may be queued while `held` bytes are.
  static bool fits(const QueueLimits& limits, std::size_t held, std::size_t bytes) noexcept;
  bool fits(std::size_t bytes) const noexcept { return fits(limits_, held(), bytes); }

  // `body`'s content (moved, not copied) in a message whose bytes count as held until ZeroMQ
  // frees it, even after this object has gone.
  zmq::message_t track(zmq::message_t&& body);

  std::size_t held() const noexcept;
  std::size_t peak() const noexcept { return peak_; }
  const QueueLimits& limits() const noexcept { return limits_; }

private:
  struct Ledger; // shared with every tracked message: the last one out frees it
  QueueLimits limits_;
  Ledger* ledger_;
  std::size_t peak_ = 0;
};

} // namespace midimesh::hub
