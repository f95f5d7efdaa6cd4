#pragma once
// A bounded queue between exactly one producer thread and one consumer thread, without locks, so
// a backend's realtime thread (JACK's process callback) never waits for the event loop.

#include <array>
#include <atomic>
#include <cstddef>

namespace midimesh::midi {

template <class T, std::size_t Capacity> class SpscQueue {
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0,
                "Capacity must be a power of two");

public:
  // Producer: calls fill(slot) and publishes the slot. Returns false, without calling fill, when
  // the queue is full. Slots are reused, not destroyed: a std::vector slot keeps its capacity,
  // so the producer stops allocating once it has seen messages of that size.
  template <class Fill> bool try_push(Fill&& fill) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_seen_by_producer_ == Capacity) {
      head_seen_by_producer_ = head_.load(std::memory_order_acquire);
      if (tail - head_seen_by_producer_ == Capacity) return false;
    }
    fill(slots_[tail & (Capacity - 1)]);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer: calls take(slot) on the oldest slot and frees it. False when the queue is empty.
  template <class Take> bool try_pop(Take&& take) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_seen_by_consumer_) {
      tail_seen_by_consumer_ = tail_.load(std::memory_order_acquire);
      if (head == tail_seen_by_consumer_) return false;
    }
    take(slots_[head & (Capacity - 1)]);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  static constexpr std::size_t capacity() { return Capacity; }

private:
  // Each side's index on its own cache line, next to its cached copy of the other side's index,
  // so the two threads do not keep invalidating each other's lines.
  static constexpr std::size_t cache_line = 64;
  alignas(cache_line) std::atomic<std::size_t> tail_{0};
  std::size_t head_seen_by_producer_ = 0;
  alignas(cache_line) std::atomic<std::size_t> head_{0};
  std::size_t tail_seen_by_consumer_ = 0;
  alignas(cache_line) std::array<T, Capacity> slots_{};
};

} // namespace midimesh::midi
