#pragma once
// One benchmark client's receiving side: the receiving socket a midimesh node has
// (node::mesh_subscriber: inverted match on its own id, receive HWM 100,000), losses counted by
// the sequence rule nodes count them by (wire/sequence_line). run() is the body of the receiver's
// own thread; while it runs, the sending thread reads only the atomic per-sender counters (for
// pacing and to know when the probes got through). Everything else is read after the thread is
// joined.

#include "wire/sequence_line.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace meshbench {

// The first payload byte tells the phases apart: probes before the measurement, then the
// measured messages.
inline constexpr std::uint8_t probe_status = 0xF8;    // MIDI clock, one byte
inline constexpr std::uint8_t measured_status = 0x90; // note-on, three bytes
inline constexpr std::uint8_t measured_note_on[] = {measured_status, 60, 100};

class Receiver {
public:
  // sender_count: client indices 0..sender_count-1 may send to this receiver.
  // latency_capacity: how many one-way latencies to keep (0: none, saves a clock read).
  Receiver(zmq::context_t& context, const std::string& id, std::uint32_t run_nonce,
           std::size_t sender_count, std::size_t latency_capacity);

  void connect(const std::string& endpoint);

  // Thread body: receives until `stop` is set or `deadline` passes, whichever comes first.
  void run(const std::atomic<bool>& stop, std::chrono::steady_clock::time_point deadline);

  // Safe to call while run() is going, from any thread.
  bool heard(std::size_t sender) const noexcept;
  std::uint64_t measured_from(std::size_t sender) const noexcept;

  // After run() has returned.
  std::uint64_t measured_total() const noexcept;
  // Messages lost (sequence gaps onto measured messages), heard twice or late (repeats), and
  // numbers the sequence rule did not believe or took for a restart of a sender's numbering.
  std::uint64_t gaps() const noexcept { return gaps_; }
  std::uint64_t repeats() const noexcept { return repeats_; }
  std::uint64_t out_of_line() const noexcept { return out_of_line_; }
  std::uint64_t restarts() const noexcept { return restarts_; }
  // Messages of `sender` neither measured nor probes (a flood's, say), repeats included.
  std::uint64_t others_from(std::size_t sender) const noexcept { return from_[sender].others; }
  std::uint64_t foreign() const noexcept { return foreign_; } // not this run's messages
  // steady_clock microseconds of the last measured message; 0 if none arrived.
  std::uint64_t last_measured_us() const noexcept { return last_measured_us_; }
  const std::vector<std::int64_t>& latencies_us() const noexcept { return latencies_us_; }

private:
  struct FromSender {
    std::atomic<bool> heard{false};
    std::atomic<std::uint64_t> measured{0};
    std::optional<midimesh::wire::SequenceLine> line; // none until the first message
    bool pending_measured = false; // the line's pending number was a measured message
    std::uint64_t others = 0;      // read after the thread is joined
  };

  // Receives at most `limit` messages without waiting; returns how many arrived.
  int drain(int limit);
  void on_message(std::string_view topic, const zmq::message_t& body);
  void on_moved(const FromSender& from, const midimesh::wire::LineStep& step) noexcept;

  zmq::socket_t socket_;
  std::uint32_t nonce_;
  std::size_t sender_count_;
  std::unique_ptr<FromSender[]> from_;
  midimesh::wire::SequenceRule rule_;
  std::uint64_t gaps_ = 0, repeats_ = 0, out_of_line_ = 0, restarts_ = 0;
  std::uint64_t foreign_ = 0;
  std::uint64_t last_measured_us_ = 0;
  std::size_t latency_capacity_;
  std::vector<std::int64_t> latencies_us_;
  bool measured_in_batch_ = false;
};

// Clocks shared by the benchmark: wall clock for envelope times (as nodes stamp them), steady
// clock for durations.
std::uint64_t wall_us() noexcept;
std::uint64_t steady_us() noexcept;

} // namespace meshbench
