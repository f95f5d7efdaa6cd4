#include "jack_latency.hpp"

#include "bench_mesh.hpp"
#include "limits.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fmt/format.h>
#include <thread>

namespace meshbench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t sequence_span = 1u << 18;
// Far more than 1,000 msg/s puts in a period, and far fewer than fill a MIDI port buffer
// (~32 KB): when the schedule runs behind, it catches up over several cycles.
constexpr int most_per_cycle = 512;
constexpr double probe_every_s = 0.05;
constexpr auto poll = std::chrono::milliseconds(10);
constexpr std::uint64_t most_slots = 64u << 20; // per input and message: bytes, plus 4 each

// The sequence number nearest `expected` whose low 18 bits are `low`.
std::uint64_t unwrap(std::uint64_t low, std::uint64_t expected) noexcept {
  std::uint64_t seq = (expected & ~(sequence_span - 1)) | low;
  if (seq + sequence_span / 2 < expected)
    seq += sequence_span;
  else if (seq > expected + sequence_span / 2 && seq >= sequence_span)
    seq -= sequence_span;
  return seq;
}

} // namespace

JackLatencyClient::JackLatencyClient(const std::string& server, std::size_t receivers,
                                     std::uint64_t messages, double rate_hz)
    : client_(nullptr, &jack_client_close), capacity_(messages) {
  if (receivers == 0 || messages == 0 || rate_hz <= 0 || messages * receivers > most_slots)
    throw BenchError(fmt::format("cannot measure {} messages to {} receivers through JACK",
                                 messages, receivers));
  std::string error;
  client_ = open_jack_client(server, "meshbench", &error);
  if (!client_)
    throw BenchError(fmt::format("JACK server {} refused meshbench: {}", server, error));
  jack_client_t* c = client_.get();
  sample_rate_ = jack_get_sample_rate(c);
  period_ = jack_get_buffer_size(c);
  frames_per_message_ = sample_rate_ / rate_hz;
  // Zeroed here, so the callback finds its pages touched and nothing to initialise.
  probed_ = std::make_unique<std::atomic<bool>[]>(receivers);
  sent_at_ = std::make_unique<jack_nframes_t[]>(messages);
  seen_ = std::make_unique<std::uint8_t[]>(messages * receivers);
  next_ = std::make_unique<std::uint64_t[]>(receivers);
  latencies_ = std::make_unique<std::int32_t[]>(messages * receivers);
  output_ = jack_port_register(c, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
  for (std::size_t r = 0; r < receivers && output_; ++r)
    if (auto* port = jack_port_register(c, fmt::format("in{}", r + 1).c_str(),
                                        JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0))
      inputs_.push_back(port);
  if (!output_ || inputs_.size() != receivers)
    throw BenchError("JACK refused to register meshbench's MIDI ports");
  jack_set_process_callback(c, &JackLatencyClient::on_process, this);
  jack_set_xrun_callback(c, &JackLatencyClient::on_xrun, this);
  jack_on_shutdown(c, &JackLatencyClient::on_shutdown, this);
  if (jack_activate(c) != 0) throw BenchError("JACK did not activate meshbench's client");
}

JackLatencyClient::~JackLatencyClient() {
  // The callback uses the arrays, which go before client_ does: stop it first.
  if (client_) jack_deactivate(client_.get());
}

int JackLatencyClient::on_process(jack_nframes_t frames, void* self) {
  static_cast<JackLatencyClient*>(self)->process(frames);
  return 0;
}

int JackLatencyClient::on_xrun(void* self) {
  static_cast<JackLatencyClient*>(self)->xruns_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void JackLatencyClient::on_shutdown(void* self) {
  static_cast<JackLatencyClient*>(self)->shut_down_.store(true);
}

void JackLatencyClient::process(jack_nframes_t frames) noexcept {
  // The frame time of this cycle's first frame: an event at offset o happens at start + o.
  const jack_nframes_t start = jack_last_frame_time(client_.get());
  void* out = jack_port_get_buffer(output_, frames);
  jack_midi_clear_buffer(out);
  play(out, start, frames);
  for (std::size_t r = 0; r < inputs_.size(); ++r)
    take(r, jack_port_get_buffer(inputs_[r], frames), start);
}

void JackLatencyClient::play(void* buffer, jack_nframes_t start, jack_nframes_t frames) noexcept {
  const Mode mode = mode_.load(std::memory_order_acquire);
  if (mode == Mode::probe) {
    const auto every = static_cast<jack_nframes_t>(probe_every_s * sample_rate_);
    if (probed_once_ && start - last_probe_ < every) return;
    const std::uint8_t probe[2] = {0xD0, 0x00};
    if (jack_midi_event_write(buffer, 0, probe, sizeof probe) == 0) {
      last_probe_ = start;
      probed_once_ = true;
    }
    return;
  }
  std::uint64_t next = sent_.load(std::memory_order_relaxed); // written by this thread only
  if (mode != Mode::measure || next >= capacity_) return;
  if (!started_) {
    started_ = true;
    started_at_ = start;
    started_us_ = jack_get_time();
  }
  // Message k is due k * frames_per_message_ frames after the first cycle (modulo 2^32 frames,
  // a day at 48 kHz), so the rate holds however the cycles fall.
  const std::uint64_t elapsed = static_cast<jack_nframes_t>(start - started_at_);
  for (int written = 0; next < capacity_ && written < most_per_cycle; ++next, ++written) {
    const auto due = static_cast<std::uint64_t>(static_cast<double>(next) * frames_per_message_);
    if (due >= elapsed + frames) break;
    const auto offset = static_cast<jack_nframes_t>(due > elapsed ? due - elapsed : 0);
    const std::uint8_t message[3] = {static_cast<std::uint8_t>(0xA0 | ((next >> 14) & 0x0F)),
                                     static_cast<std::uint8_t>((next >> 7) & 0x7F),
                                     static_cast<std::uint8_t>(next & 0x7F)};
    if (jack_midi_event_write(buffer, offset, message, sizeof message) != 0) {
      write_failures_.fetch_add(1, std::memory_order_relaxed);
      break; // again next cycle
    }
    sent_at_[next] = start + offset;
  }
  sent_.store(next, std::memory_order_release);
  if (next == capacity_) {
    ended_at_ = start;
    ended_us_ = jack_get_time();
    ended_.store(true, std::memory_order_release);
  }
}

void JackLatencyClient::take(std::size_t receiver, void* buffer, jack_nframes_t start) noexcept {
  const std::uint64_t sent = sent_.load(std::memory_order_relaxed);
  const jack_nframes_t count = jack_midi_get_event_count(buffer);
  for (jack_nframes_t i = 0; i < count; ++i) {
    jack_midi_event_t event;
    if (jack_midi_event_get(&event, buffer, i) != 0) continue;
    const jack_midi_data_t* m = event.buffer;
    if (event.size == 2 && (m[0] & 0xF0) == 0xD0) {
      probed_[receiver].store(true, std::memory_order_release);
      continue;
    }
    if (event.size != 3 || (m[0] & 0xF0) != 0xA0) continue;
    std::uint64_t& next = next_[receiver];
    const std::uint64_t seq = unwrap((std::uint64_t{m[0] & 0x0Fu} << 14) |
                                         (std::uint64_t{m[1]} << 7) | std::uint64_t{m[2]},
                                     next);
    if (seq >= sent) continue; // not played in this measurement
    std::uint8_t& seen = seen_[receiver * capacity_ + seq];
    if (seen) {
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    seen = 1;
    if (seq < next)
      reordered_.fetch_add(1, std::memory_order_relaxed);
    else
      next = seq + 1;
    // Each input hears each message once at most, so the latencies never outgrow their room.
    const std::uint64_t delivered = delivered_.load(std::memory_order_relaxed);
    latencies_[delivered] = static_cast<std::int32_t>(start + event.time - sent_at_[seq]);
    delivered_.store(delivered + 1, std::memory_order_release);
  }
}

void JackLatencyClient::check(const std::function<bool()>& alive) const {
  if (shut_down_) throw BenchError("the JACK server shut meshbench's client down");
  if (!alive()) throw BenchError("a node or the JACK server exited (see their logs)");
}

void JackLatencyClient::connect(const std::string& to, const std::vector<std::string>& from,
                                std::chrono::milliseconds limit,
                                const std::function<bool()>& alive) {
  jack_client_t* c = client_.get();
  if (from.size() != inputs_.size())
    throw BenchError(fmt::format("{} ports to listen to, {} inputs", from.size(), inputs_.size()));
  const auto give_up = Clock::now() + limit;
  for (;;) {
    bool all = jack_port_by_name(c, to.c_str()) != nullptr;
    for (const auto& name : from)
      all = all && jack_port_by_name(c, name.c_str()) != nullptr;
    if (all) break;
    check(alive);
    if (Clock::now() > give_up)
      throw BenchError(
          fmt::format("the nodes' JACK ports did not all appear within {} ms", limit.count()));
    std::this_thread::sleep_for(poll);
  }
  auto link = [c](const char* source, const char* destination) {
    const int error = jack_connect(c, source, destination);
    if (error != 0 && error != EEXIST)
      throw BenchError(
          fmt::format("JACK did not connect {} to {} (error {})", source, destination, error));
  };
  link(jack_port_name(output_), to.c_str());
  for (std::size_t r = 0; r < from.size(); ++r)
    link(from[r].c_str(), jack_port_name(inputs_[r]));
}

void JackLatencyClient::probe(std::chrono::milliseconds limit, const std::function<bool()>& alive) {
  mode_.store(Mode::probe, std::memory_order_release);
  const auto give_up = Clock::now() + limit;
  for (;;) {
    std::size_t heard = 0;
    for (std::size_t r = 0; r < inputs_.size(); ++r)
      heard += probed_[r].load(std::memory_order_acquire) ? 1 : 0;
    if (heard == inputs_.size()) break;
    check(alive);
    if (Clock::now() > give_up)
      throw BenchError(fmt::format("{} of {} nodes heard node 0 within {} ms", heard,
                                   inputs_.size(), limit.count()));
    std::this_thread::sleep_for(poll);
  }
  mode_.store(Mode::idle, std::memory_order_release);
}

JackLatencyResult JackLatencyClient::measure(const std::function<bool()>& alive) {
  JackLatencyResult r;
  r.period = period_;
  r.sample_rate = sample_rate_;
  r.nodes = inputs_.size() + 1;
  xruns_.store(0);
  mode_.store(Mode::measure, std::memory_order_release);
  // The frame clock may run slower than the wall clock (late cycles): allow half as much again.
  const double limit_s =
      static_cast<double>(capacity_) * frames_per_message_ / sample_rate_ * 1.5 + 2;
  const auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(limit_s));
  while (!ended_.load(std::memory_order_acquire) && Clock::now() < give_up) {
    check(alive);
    std::this_thread::sleep_for(poll);
  }
  const std::uint64_t sent = sent_.load(std::memory_order_acquire);
  if (sent < capacity_)
    r.error = fmt::format("played {} of {} messages in {:.1f} s", sent, capacity_, limit_s);
  r.expected = sent * inputs_.size();
  // Until every message has arrived, none came for quiet_limit, or drain_limit passed.
  const auto deadline = Clock::now() + drain_limit;
  std::uint64_t delivered = delivered_.load(std::memory_order_acquire);
  auto last_progress = Clock::now();
  while (delivered < r.expected && Clock::now() < deadline &&
         Clock::now() - last_progress < quiet_limit) {
    check(alive);
    std::this_thread::sleep_for(poll);
    const std::uint64_t now_delivered = delivered_.load(std::memory_order_acquire);
    if (now_delivered != delivered) last_progress = Clock::now();
    delivered = now_delivered;
  }
  mode_.store(Mode::idle, std::memory_order_release);
  jack_deactivate(client_.get()); // no callback after this returns
  delivered = delivered_.load(std::memory_order_acquire);

  r.sent = sent;
  r.delivered = delivered;
  r.lost = r.expected - std::min(r.expected, delivered);
  r.reordered = reordered_.load();
  r.duplicates = duplicates_.load();
  r.xruns = xruns_.load();
  r.write_failures = write_failures_.load();
  if (sent > 1) {
    const auto span = static_cast<jack_nframes_t>(sent_at_[sent - 1] - sent_at_[0]);
    if (span > 0) r.rate_hz = static_cast<double>(sent - 1) * sample_rate_ / span;
  }
  if (ended_.load(std::memory_order_acquire) && ended_us_ > started_us_)
    r.frame_clock_ratio =
        static_cast<double>(static_cast<jack_nframes_t>(ended_at_ - started_at_)) / sample_rate_ /
        (static_cast<double>(ended_us_ - started_us_) / 1e6);
  std::vector<std::int64_t> samples_us(delivered);
  for (std::uint64_t i = 0; i < delivered; ++i)
    samples_us[i] = std::llround(latencies_[i] * 1e6 / sample_rate_);
  r.latency = summarize(std::move(samples_us));
  return r;
}

} // namespace meshbench
