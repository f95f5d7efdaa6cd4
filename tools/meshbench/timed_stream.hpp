#pragma once
// A steady stream of numbered, time-stamped MIDI messages from one node to another: the
// yardstick of the join and failover trials. A thread of its own plays one message every period
// (1 ms) into the sender's inlet from construction on; the calling thread listens to the
// receiver's outlet and records each message of this stream it plays out, with the time.
// Both clocks are this process's steady clock, so "sent after t" and "arrived at" compare
// directly. Every wait is bounded by a deadline.

#include "midi_socket.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace meshbench {

struct Arrival {
  std::uint64_t seq = 0;     // 0, 1, ... in the order the inlet accepted them
  std::uint64_t sent_us = 0; // when it was handed to the sending node
  std::uint64_t at_us = 0;   // when the receiving node played it out
};

class TimedStream {
public:
  using Clock = std::chrono::steady_clock;

  // `stream` (0..127) tells this stream's messages from any other's the outlet may still carry.
  TimedStream(MidiInlet inlet, MidiOutlet& outlet, std::uint8_t stream,
              std::chrono::microseconds period = std::chrono::milliseconds(1));
  ~TimedStream(); // stops playing
  TimedStream(const TimedStream&) = delete;
  TimedStream& operator=(const TimedStream&) = delete;

  // Records arrivals until done() (asked after every wake-up, at least every 5 ms) or
  // `deadline`; returns done().
  bool listen_until(const std::function<bool()>& done, Clock::time_point deadline);
  // Stops playing; then listens until every message played has arrived, or none came for
  // `quiet`, or `deadline`.
  void drain(std::chrono::milliseconds quiet, Clock::time_point deadline);

  const std::vector<Arrival>& arrivals() const noexcept { return arrivals_; }
  // Messages the sending node has accepted so far (any thread).
  std::uint64_t played() const noexcept { return played_.load(); }
  // The first arrival of a message sent after `t_us`; nullptr if none yet.
  const Arrival* first_sent_after(std::uint64_t t_us) const noexcept;

private:
  void play();
  void take_arrivals();

  MidiInlet inlet_; // the playing thread's only
  MidiOutlet& outlet_;
  std::uint8_t stream_;
  std::chrono::microseconds period_;
  std::vector<Arrival> arrivals_;
  std::vector<std::uint8_t> message_;
  std::atomic<std::uint64_t> played_{0};
  std::atomic<bool> stop_{false};
  std::thread player_;
};

// Stamped messages: SysEx (non-commercial id) F0 7D 03 stream seq(4 x 7 bits) time(10 x 7) F7.
std::vector<std::uint8_t> stamp(std::uint8_t stream, std::uint64_t seq, std::uint64_t time_us);
// The arrival a message stands for if it is a stamp of `stream` (at_us left 0).
bool read_stamp(const std::vector<std::uint8_t>& message, std::uint8_t stream, Arrival& out);

} // namespace meshbench
