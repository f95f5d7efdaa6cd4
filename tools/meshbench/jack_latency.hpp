#pragma once
// meshbench's own JACK client: one MIDI output (into node 0) and one MIDI input per receiving
// node. Its process callback plays messages paced by frame time, several per period at offsets
// spread through it, and timestamps arrivals in the same frame clock, so latency is exact to a
// frame and needs no wall clock. The callback allocates nothing and takes no lock: everything is
// preallocated, and counts are handed to the main thread through atomics.
//
// A measured message is poly pressure carrying an 18-bit sequence number (4 bits in the channel,
// 7 in the key, 7 in the value), unwrapped against what each input expects next; a probe is
// channel pressure. Anything else arriving (e.g. notes a node releases) is ignored.

#include "jack_scenarios.hpp"
#include "jack_server.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <jack/midiport.h>
#include <memory>
#include <string>
#include <vector>

namespace meshbench {

class JackLatencyClient {
public:
  // Opens client `meshbench` on `server` with `receivers` inputs, room for `messages` messages
  // at `rate_hz`, and activates it. Throws BenchError.
  JackLatencyClient(const std::string& server, std::size_t receivers, std::uint64_t messages,
                    double rate_hz);
  ~JackLatencyClient();
  JackLatencyClient(const JackLatencyClient&) = delete;
  JackLatencyClient& operator=(const JackLatencyClient&) = delete;

  unsigned sample_rate() const noexcept { return sample_rate_; }
  unsigned period() const noexcept { return period_; }

  // Waits until the nodes' ports `to` and every `from[r]` exist; then connects the output to
  // `to` and each `from[r]` to input r. Throws BenchError after `limit`, or once `alive` says
  // false.
  void connect(const std::string& to, const std::vector<std::string>& from,
               std::chrono::milliseconds limit, const std::function<bool()>& alive);
  // Plays probes until every input has heard one (the nodes joined and subscribed). Throws
  // BenchError after `limit`, or once `alive` says false.
  void probe(std::chrono::milliseconds limit, const std::function<bool()>& alive);
  // Plays every message, waits for the arrivals, and stops the client. Throws BenchError once
  // `alive` says false; a run that loses messages returns and counts them.
  JackLatencyResult measure(const std::function<bool()>& alive);

private:
  enum class Mode { idle, probe, measure };
  static int on_process(jack_nframes_t frames, void* self);
  static int on_xrun(void* self);
  static void on_shutdown(void* self);
  void process(jack_nframes_t frames) noexcept;
  void play(void* buffer, jack_nframes_t start, jack_nframes_t frames) noexcept;
  void take(std::size_t receiver, void* buffer, jack_nframes_t start) noexcept;
  void check(const std::function<bool()>& alive) const;

  JackClientHandle client_;
  unsigned sample_rate_ = 0, period_ = 0;
  jack_port_t* output_ = nullptr;
  std::vector<jack_port_t*> inputs_;
  const std::uint64_t capacity_;
  double frames_per_message_ = 0;

  // Main thread to callback.
  std::atomic<Mode> mode_{Mode::idle};
  // Callback to main thread; each count is stored (release) after what it counts is written.
  std::unique_ptr<std::atomic<bool>[]> probed_; // per input
  std::atomic<std::uint64_t> sent_{0}, delivered_{0};
  std::atomic<std::uint64_t> reordered_{0}, duplicates_{0}, write_failures_{0}, xruns_{0};
  std::atomic<bool> ended_{false}, shut_down_{false};
  // Written by the callback only; read by the main thread after the counts above say so.
  std::unique_ptr<jack_nframes_t[]> sent_at_;    // per message: the frame it was played at
  std::unique_ptr<std::uint8_t[]> seen_;         // per input and message
  std::unique_ptr<std::uint64_t[]> next_;        // per input: the sequence number expected next
  std::unique_ptr<std::int32_t[]> latencies_;    // frames, in arrival order
  jack_nframes_t started_at_ = 0, ended_at_ = 0; // first and last frame played
  jack_time_t started_us_ = 0, ended_us_ = 0;    // jack_get_time() of those cycles
  jack_nframes_t last_probe_ = 0;
  bool started_ = false, probed_once_ = false;
};

} // namespace meshbench
