// MidiPorts over RtMidi. RtMidi hands input over on its own thread (JACK's process thread for
// JACK), so everything that thread touches is here: a lock-free queue, a wakeup fd and counters.
// RtMidi is told to report errors to us instead of printing them, and libjack likewise.

#include "midi/midi_ports.hpp"
#include "midi/socket_ports.hpp"
#include "midi/spsc_queue.hpp"
#include "platform/wakeup.hpp"

#include <RtMidi.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>
#ifdef __linux__
#include <unistd.h>
#endif
#ifdef MIDIMESH_HAVE_JACK
#include <jack/jack.h>
#endif

namespace midimesh::midi {
namespace {

constexpr std::size_t input_queue_slots = 4096;
// RtMidi's ALSA output sends long SysEx in chunks, so the limit is our own choice.
constexpr std::size_t alsa_max_message = 256 * 1024;
constexpr std::size_t other_max_message = 64 * 1024;
// RtMidi 5.0's JACK output queues a message as an int length plus its bytes in a 16 KiB
// jack_ringbuffer, one byte of which is never usable, and silently drops what does not fit.
constexpr std::size_t rtmidi_jack_ringbuffer = 16384;
constexpr std::size_t rtmidi_jack_max_message = rtmidi_jack_ringbuffer - 1 - sizeof(int);
// A JACK MIDI port buffer begins with a header and holds a descriptor per event (jack2: 24 and
// 12 bytes); an event may use the rest.
constexpr std::size_t jack_midi_buffer_overhead = 64;

// WinMM opens only ports that exist; a virtual cable (loopMIDI) makes them.
constexpr const char* no_virtual_ports =
    "Windows cannot create virtual MIDI ports: create two ports in loopMIDI (e.g. daw-to-mesh "
    "and mesh-to-daw) and open them with --midi-in and --midi-out";

// The backend cannot be used at all here; open_midi_ports then tries the next one.
struct BackendUnavailable : MidiError {
  using MidiError::MidiError;
};

struct ApiNames {
  RtMidi::Api api;
  const char* config_name;
  const char* display_name;
};
constexpr ApiNames api_names[] = {
    {RtMidi::LINUX_ALSA, "alsa", "ALSA"},
    {RtMidi::UNIX_JACK, "jack", "JACK"},
    {RtMidi::MACOSX_CORE, "core", "CoreMIDI"},
    {RtMidi::WINDOWS_MM, "winmm", "WinMM"},
};

RtMidi::Api api_from_name(const std::string& name) {
  for (const auto& names : api_names)
    if (name == names.config_name) return names.api;
  throw MidiError("unknown MIDI API '" + name + "': valid names are alsa, jack, core, winmm");
}

std::string display_name(RtMidi::Api api) {
  for (const auto& names : api_names)
    if (api == names.api) return names.display_name;
  return RtMidi::getApiDisplayName(api);
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string joined;
  for (const auto& part : parts)
    joined += (joined.empty() ? "" : separator) + part;
  return joined;
}

bool contains_ignoring_case(const std::string& haystack, const std::string& needle) {
  auto lower = [](std::string s) {
    for (auto& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

#ifdef MIDIMESH_HAVE_JACK
std::atomic<std::uint64_t> jack_errors{0};
thread_local std::string* jack_error_capture = nullptr;

// libjack prints to stderr, even from its process thread (e.g. an event lost for lack of room in
// a port buffer). Count instead, and keep the text only while this thread queries the server.
void on_jack_error(const char* text) {
  jack_errors.fetch_add(1, std::memory_order_relaxed);
  if (jack_error_capture)
    *jack_error_capture += (jack_error_capture->empty() ? "" : "; ") + std::string(text);
}
void ignore_jack_info(const char*) {}

struct JackServerFacts {
  std::size_t midi_buffer_bytes = 0;
  std::chrono::microseconds period{0};
  std::vector<std::string> ports_taken;
};

// What RtMidi cannot tell: whether a server runs (RtMidi only prints a warning), how large a MIDI
// port buffer is, and whether our port names are taken (JACK would silently rename our client).
JackServerFacts query_jack_server(const std::vector<std::string>& wanted_ports) {
  static std::once_flag silence_libjack;
  std::call_once(silence_libjack, [] {
    jack_set_error_function(on_jack_error);
    jack_set_info_function(ignore_jack_info);
  });
  std::string errors;
  jack_error_capture = &errors;
  jack_status_t status{};
  std::unique_ptr<jack_client_t, decltype(&jack_client_close)> client(
      jack_client_open("midimesh-query", JackNoStartServer, &status), &jack_client_close);
  jack_error_capture = nullptr;
  if (!client) {
    if (status & JackServerFailed) throw BackendUnavailable("no JACK server is running");
    throw BackendUnavailable("the JACK server refused a client: " + errors);
  }
  JackServerFacts facts;
  facts.midi_buffer_bytes = jack_port_type_get_buffer_size(client.get(), JACK_DEFAULT_MIDI_TYPE);
  if (const jack_nframes_t rate = jack_get_sample_rate(client.get()))
    facts.period = std::chrono::microseconds(std::uint64_t{jack_get_buffer_size(client.get())} *
                                             1'000'000 / rate);
  for (const auto& name : wanted_ports)
    if (jack_port_by_name(client.get(), name.c_str())) facts.ports_taken.push_back(name);
  return facts;
}
#endif

void require_backend_present(RtMidi::Api api) {
  std::vector<RtMidi::Api> compiled;
  RtMidi::getCompiledApi(compiled);
  if (std::find(compiled.begin(), compiled.end(), api) == compiled.end())
    throw BackendUnavailable("not compiled into this RtMidi library");
#ifdef __linux__
  // Checked first because RtMidi and alsa-lib print raw errors to stderr when it is missing.
  if (api == RtMidi::LINUX_ALSA && ::access("/dev/snd/seq", F_OK) != 0)
    throw BackendUnavailable("/dev/snd/seq is absent (no ALSA sequencer: load snd-seq)");
#endif
#ifdef MIDIMESH_HAVE_JACK
  if (api == RtMidi::UNIX_JACK) query_jack_server({});
#endif
}

// RtMidi reports here instead of printing to stderr; once this is installed it no longer throws
// either, so callers compare count() around each call. RtMidi reports on the calling thread, but
// the lock keeps a backend that reports from its own thread safe.
class ErrorSink {
public:
  static void report(RtMidiError::Type, const std::string& text, void* sink) {
    auto& self = *static_cast<ErrorSink*>(sink);
    std::lock_guard lock(self.mutex_);
    self.pending_.push_back(text);
    self.count_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t count() const { return count_.load(std::memory_order_acquire); }
  // Reports not yet taken; cheap when there are none, as it runs on every send().
  std::vector<std::string> take() {
    if (count() == taken_) return {};
    std::lock_guard lock(mutex_);
    taken_ = count();
    return std::exchange(pending_, {});
  }

private:
  std::mutex mutex_;
  std::vector<std::string> pending_;
  std::atomic<std::uint64_t> count_{0};
  std::uint64_t taken_ = 0;
};

class RtMidiPorts final : public MidiPorts {
public:
  RtMidiPorts(RtMidi::Api api, const MidiConfig& config);
  ~RtMidiPorts() override;

  int input_fd() const override { return wakeup_.fd(); }
  void take_input(std::vector<std::vector<std::uint8_t>>& out) override;
  SendResult send(std::span<const std::uint8_t> message) override;
  std::size_t max_message_size() const override { return max_message_size_; }
  InputStats input_stats() const override;
  std::string describe() const override { return description_; }

private:
  static void on_input(double, std::vector<unsigned char>* message, void* self);
  std::string open_port(RtMidi& midi, ErrorSink& errors, const MidiConfig& config,
                        const std::string& wanted, const std::string& client,
                        const std::string& port, const char* direction);
  void log_reports(ErrorSink& errors);

  RtMidi::Api api_;
  std::function<void(const std::string&)> log_;
  std::size_t max_message_size_ = other_max_message;
  // JACK plays what RtMidi queued during its next cycle: closing the port before then would
  // lose the note-offs a node sends as it leaves. How long to give it, and when we last sent.
  std::chrono::microseconds close_grace_{0};
  std::chrono::steady_clock::time_point last_send_{};
  std::string description_;
  platform::Wakeup wakeup_; // makes input_fd() readable from the backend's thread
  SpscQueue<std::vector<std::uint8_t>, input_queue_slots> queue_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> overflows_{0};
  ErrorSink input_errors_;
  ErrorSink output_errors_;
  // Declared last so they are destroyed first: their threads use everything above.
  std::unique_ptr<RtMidiIn> in_;
  std::unique_ptr<RtMidiOut> out_;
};

RtMidiPorts::RtMidiPorts(RtMidi::Api api, const MidiConfig& config) : api_(api), log_(config.log) {
  // One client per direction (RtMidi opens one per object), named apart so that JACK does not
  // rename the second, and after port_name so several nodes on one host stay predictable.
  const std::string in_client = config.port_name + "-in", out_client = config.port_name + "-out";
  require_backend_present(api);
  if (api == RtMidi::LINUX_ALSA) max_message_size_ = alsa_max_message;
  if (api == RtMidi::UNIX_JACK) {
    max_message_size_ = rtmidi_jack_max_message;
#ifdef MIDIMESH_HAVE_JACK
    if (out_client.size() >= static_cast<std::size_t>(jack_client_name_size()))
      throw MidiError("port name '" + config.port_name + "' is too long for JACK (at most " +
                      std::to_string(jack_client_name_size() - 5) + " characters)");
    const auto facts = query_jack_server({in_client + ":in", out_client + ":out"});
    if (!facts.ports_taken.empty())
      throw MidiError("JACK already has a port " + facts.ports_taken.front() +
                      ": another node on this host uses the port name '" + config.port_name +
                      "'; give each node its own");
    if (facts.midi_buffer_bytes > jack_midi_buffer_overhead)
      max_message_size_ =
          std::min(max_message_size_, facts.midi_buffer_bytes - jack_midi_buffer_overhead);
    // Two cycles, and never more than 100 ms however large the period.
    close_grace_ =
        std::min<std::chrono::microseconds>(2 * facts.period, std::chrono::milliseconds(100));
#endif
  }
  try {
    in_ = std::make_unique<RtMidiIn>(api, in_client);
    out_ = std::make_unique<RtMidiOut>(api, out_client);
  } catch (const RtMidiError& e) {
    throw BackendUnavailable(e.getMessage());
  }
  in_->setErrorCallback(&ErrorSink::report, &input_errors_);
  out_->setErrorCallback(&ErrorSink::report, &output_errors_);
  // Before the port opens, so that the first message already finds both in place. RtMidi drops
  // SysEx, clock and active sensing unless told otherwise.
  in_->ignoreTypes(false, false, false);
  in_->setCallback(&RtMidiPorts::on_input, this);
  const std::string input =
      open_port(*in_, input_errors_, config, config.input_name, in_client, "in", "input");
  const std::string output =
      open_port(*out_, output_errors_, config, config.output_name, out_client, "out", "output");
  description_ = display_name(api) + ": " + input + ", " + output + ", messages up to " +
                 std::to_string(max_message_size_) + " bytes";
}

std::string RtMidiPorts::open_port(RtMidi& midi, ErrorSink& errors, const MidiConfig& config,
                                   const std::string& wanted, const std::string& client,
                                   const std::string& port, const char* direction) {
  const auto errors_before = errors.count();
  std::string opened;
  if (wanted.empty()) {
    if (api_ == RtMidi::WINDOWS_MM) throw MidiError(no_virtual_ports);
    midi.openVirtualPort(port);
    opened = std::string("virtual ") + direction + " " + client + ":" + port;
  } else {
    std::vector<std::string> available;
    for (unsigned i = 0, n = midi.getPortCount(); i < n && opened.empty(); ++i) {
      const std::string name = midi.getPortName(i);
      // Never our own ports: an output connected to our input would loop.
      if (name.starts_with(config.port_name + "-in:") ||
          name.starts_with(config.port_name + "-out:"))
        continue;
      available.push_back(name);
      if (!contains_ignoring_case(name, wanted)) continue;
      midi.openPort(i, port);
      opened = std::string(direction) + " " + (direction[0] == 'i' ? "from " : "to ") + name;
    }
    if (opened.empty())
      throw MidiError("no " + display_name(api_) + " " + direction + " port matches '" + wanted +
                      "'; available: " + (available.empty() ? "none" : join(available, ", ")));
  }
  if (errors.count() != errors_before)
    throw MidiError("cannot open the " + std::string(direction) +
                    " port: " + join(errors.take(), "; "));
  return opened;
}

void RtMidiPorts::on_input(double, std::vector<unsigned char>* message, void* self) {
  auto& ports = *static_cast<RtMidiPorts*>(self);
  if (message->empty()) return;
  ports.received_.fetch_add(1, std::memory_order_relaxed);
  if (ports.queue_.try_push(
          [&](std::vector<std::uint8_t>& slot) { slot.assign(message->begin(), message->end()); }))
    ports.wakeup_.signal();
  else
    ports.overflows_.fetch_add(1, std::memory_order_relaxed);
}

void RtMidiPorts::take_input(std::vector<std::vector<std::uint8_t>>& out) {
  // Clear before draining: a message queued after the drain signals again, so none waits unseen.
  wakeup_.clear();
  while (queue_.try_pop([&](std::vector<std::uint8_t>& slot) {
    out.emplace_back(slot.begin(), slot.end()); // copy: the slot keeps its capacity
  })) {
  }
  log_reports(input_errors_);
}

RtMidiPorts::~RtMidiPorts() {
  const auto played_by = last_send_ + close_grace_;
  if (close_grace_.count() > 0 && std::chrono::steady_clock::now() < played_by)
    std::this_thread::sleep_until(played_by);
}

SendResult RtMidiPorts::send(std::span<const std::uint8_t> message) {
  if (message.size() > max_message_size_) return SendResult::too_large;
  if (message.empty()) return SendResult::failed;
  if (close_grace_.count() > 0) last_send_ = std::chrono::steady_clock::now();
  const auto errors_before = output_errors_.count();
  try {
    out_->sendMessage(message.data(), message.size());
  } catch (const RtMidiError& e) {
    log_reports(output_errors_);
    if (log_) log_(display_name(api_) + ": " + e.getMessage());
    return SendResult::failed;
  }
  const bool refused = output_errors_.count() != errors_before;
  log_reports(output_errors_);
  return refused ? SendResult::failed : SendResult::sent;
}

InputStats RtMidiPorts::input_stats() const {
  InputStats stats;
  stats.received = received_.load(std::memory_order_relaxed);
  stats.queue_overflows = overflows_.load(std::memory_order_relaxed);
  stats.backend_errors = input_errors_.count();
#ifdef MIDIMESH_HAVE_JACK
  // libjack's errors are process-wide; in a running node they mean MIDI events were lost.
  if (api_ == RtMidi::UNIX_JACK)
    stats.backend_errors += jack_errors.load(std::memory_order_relaxed);
#endif
  return stats;
}

void RtMidiPorts::log_reports(ErrorSink& errors) {
  for (const auto& text : errors.take()) {
    const std::string line = display_name(api_) + ": " + text;
    if (log_)
      log_(line);
    else
      std::cerr << "midimesh: MIDI " << line << '\n';
  }
}

std::vector<RtMidi::Api> apis_to_try(const std::string& api) {
  if (!api.empty()) return {api_from_name(api)};
  std::vector<RtMidi::Api> compiled; // in the platform's order: ALSA before JACK on Linux
  RtMidi::getCompiledApi(compiled);
  return compiled;
}

std::string what_to_do(const std::vector<RtMidi::Api>& apis) {
  const bool jack = std::find(apis.begin(), apis.end(), RtMidi::UNIX_JACK) != apis.end();
  return jack ? "Start a JACK server (e.g. jackd -d dummy), or run without MIDI (--no-midi)."
              : "Run without MIDI (--no-midi).";
}

} // namespace

std::unique_ptr<MidiPorts> open_midi_ports(const MidiConfig& config) {
  if (config.port_name.empty() || config.port_name.find(':') != std::string::npos)
    throw MidiError("invalid MIDI port name '" + config.port_name + "': non-empty, without ':'");
  // Only when asked for by name: it is for tests and benchmarks, not for music software.
  if (config.api == socket_api_name) return open_socket_ports(config);
  const auto apis = apis_to_try(config.api);
  std::vector<std::string> failures;
  for (const auto api : apis) {
    try {
      return std::make_unique<RtMidiPorts>(api, config);
    } catch (const BackendUnavailable& e) {
      failures.push_back(display_name(api) + ": " + e.what());
    } catch (const MidiError& e) {
      // The backend works but the configuration does not fit it: another backend would not
      // give the user what was asked for either.
      throw MidiError(display_name(api) + ": " + e.what());
    } catch (const RtMidiError& e) {
      throw MidiError(display_name(api) + ": " + e.getMessage());
    } catch (const std::system_error& e) { // no wake-up for the event loop
      throw MidiError(display_name(api) + ": " + e.what());
    }
  }
  throw MidiError("no MIDI backend could be opened (" + join(failures, "; ") + "). " +
                  what_to_do(apis));
}

bool list_midi_ports(const std::string& api, std::ostream& out) {
  if (api == socket_api_name) {
    out << "socket (testing only): no ports to list; --port-name PATH listens on the Unix "
           "socket PATH-in and plays to the one listening on PATH-out\n";
    return true;
  }
  std::vector<RtMidi::Api> apis;
  try {
    apis = apis_to_try(api);
  } catch (const MidiError& e) {
    out << e.what() << '\n';
    return false;
  }
  std::ostringstream listings;
  std::vector<std::string> failures;
  for (const auto each : apis) {
    try {
      require_backend_present(each);
      ErrorSink errors;
      RtMidiIn in(each, "midimesh-list");
      RtMidiOut output(each, "midimesh-list");
      in.setErrorCallback(&ErrorSink::report, &errors);
      output.setErrorCallback(&ErrorSink::report, &errors);
      std::ostringstream listing;
      auto list = [&](RtMidi& midi, const char* heading) {
        listing << "  " << heading << ":\n";
        const unsigned count = midi.getPortCount();
        for (unsigned i = 0; i < count; ++i)
          listing << "    " << midi.getPortName(i) << '\n';
        if (count == 0) listing << "    (none)\n";
      };
      listing << display_name(each) << ":\n";
      list(in, "inputs");
      list(output, "outputs");
      if (each == RtMidi::WINDOWS_MM && in.getPortCount() == 0 && output.getPortCount() == 0)
        listing << "  no MIDI device on this computer. " << no_virtual_ports << '\n';
      if (errors.count() != 0) throw BackendUnavailable(join(errors.take(), "; "));
      listings << listing.str();
    } catch (const MidiError& e) {
      failures.push_back(display_name(each) + ": " + e.what());
    } catch (const RtMidiError& e) {
      failures.push_back(display_name(each) + ": " + e.getMessage());
    }
  }
  if (failures.size() == apis.size()) {
    out << "No MIDI backend works (" << join(failures, "; ") << "). " << what_to_do(apis) << '\n';
    return false;
  }
  out << listings.str();
  for (const auto& failure : failures)
    out << failure.substr(0, failure.find(':')) << " unavailable"
        << failure.substr(failure.find(':')) << '\n';
  return true;
}

} // namespace midimesh::midi
