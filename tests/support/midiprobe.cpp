// midiprobe: writes into and reads from a node's MIDI ports through a real JACK server, for the
// integration tests. Counts and checksums are kept here so a test need not parse 20,000 lines.
//
// Usage: midiprobe [--name NAME] [--send-to CLIENT] [--recv-from CLIENT] [--timeout SECONDS]
//                  [--quiet]
//   Sends through JACK port NAME-out:out, connected to the first JACK input port of the JACK
//   client CLIENT (e.g. "a-in", case-insensitive); without --send-to the port is virtual, for a
//   node to connect to. Receives on NAME-in:in from --recv-from likewise. Waits up to 10 s for the
//   ports to appear. NAME defaults to "midiprobe". When connected prints
//     ready out=<port sent to, or virtual> in=<port received from, or virtual>
//
// Commands on stdin, one per line, run one after the other; each answers with one line:
//   send HEX          -> "sent N"            one message of N bytes, e.g. "send 903c64"
//   sysex N           -> "sent N"            F0, then (i*7+3)&0x7F for i = 1..N-2, then F7
//   burst N CH RATE   -> "burst N MS"        N poly-pressure messages A0|CH, i>>7, i&0x7F for
//                                            i = 0..N-1 (N <= 16384), RATE per second
//   expect CH N MS    -> a "stats CH" line once channel CH has N burst messages or after MS ms
//   expect all N MS   -> a "stats all" line once N messages of any kind arrived or after MS ms
//   stats CH          -> "stats ch=CH count=C last=L missing=M reordered=R"
//                        (burst messages on CH: L the highest counter or -1, M counters skipped
//                        and not seen since, R counters at or below one seen before)
//   stats all         -> "stats all count=C bytes=B overflows=O checksum=X"
//                        (X: 64-bit FNV-1a, hex, over the bytes of all messages in arrival order)
//   quiet | verbose   -> "ok"   stop/start printing "recv HEX" for each message received
//   reset             -> "ok"   forget everything received
//   ping              -> "pong"
//   quit              -> exit 0
// Unknown or malformed commands answer "error ...". Received messages are printed as "recv HEX"
// lines, in arrival order, unless quiet. Exits 0 on quit or end of stdin (after a running
// burst) or SIGTERM (even in a burst; its JACK clients closed, so JACK has no dead client to wait
// for, as it would after SIGKILL), 3 after --timeout seconds (default 60), 2 on bad usage or a
// port that never appeared.

#include "midi/spsc_queue.hpp"

#include <RtMidi.h>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <poll.h>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;
constexpr std::uint8_t poly_pressure = 0xA0;
constexpr unsigned max_burst = 1u << 14;   // the counter travels in two 7-bit data bytes
volatile std::sig_atomic_t terminated = 0; // SIGTERM: leave the main loop, close the ports

struct Options {
  std::string name = "midiprobe";
  std::string send_to, recv_from;
  double timeout_s = 60;
  bool quiet = false;
};

std::string hex(const Bytes& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string text;
  for (auto b : bytes) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  return text;
}

std::optional<Bytes> parse_hex(const std::string& text) {
  std::string digits;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) digits += c;
  if (digits.empty() || digits.size() % 2 != 0) return std::nullopt;
  Bytes bytes;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    char* end = nullptr;
    const std::string pair = digits.substr(i, 2);
    const long value = std::strtol(pair.c_str(), &end, 16);
    if (end != pair.c_str() + 2) return std::nullopt;
    bytes.push_back(static_cast<std::uint8_t>(value));
  }
  return bytes;
}

// A JACK port "client:port" of the client `client` (case-insensitive). Not a substring: probe
// "pa"'s own port "pa-in:in" would pass for node a's "a-in:in", and which of the two came first
// depended on JACK's port ids (held_notes_test lost a held note to it in a loaded run).
bool of_client(std::string port, std::string client) {
  for (auto* s : {&port, &client})
    for (auto& c : *s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return port == client || port.starts_with(client + ":");
}

// Burst messages from one channel (one sender), checked for loss and order.
struct ChannelStats {
  std::uint64_t count = 0, missing = 0, reordered = 0;
  long last = -1;
  void observe(long counter) {
    ++count;
    if (counter > last) {
      missing += static_cast<std::uint64_t>(counter - last - 1);
      last = counter;
    } else {
      ++reordered;
      if (missing > 0) --missing; // it was counted missing when the later one came
    }
  }
};

struct Received {
  std::array<ChannelStats, 16> channels;
  std::uint64_t count = 0, bytes = 0;
  std::uint64_t checksum = 14695981039346656037ull; // FNV-1a 64 offset basis
  void observe(const Bytes& message) {
    ++count;
    bytes += message.size();
    for (auto b : message)
      checksum = (checksum ^ b) * 1099511628211ull;
    if (message.size() == 3 && (message[0] & 0xF0) == poly_pressure)
      channels[message[0] & 0x0F].observe(long{message[1]} << 7 | message[2]);
  }
};

class Probe {
public:
  explicit Probe(const Options& options) : options_(options), quiet_(options.quiet) {}
  int run();

private:
  static void on_input(double, std::vector<unsigned char>* message, void* self);
  static void on_error(RtMidiError::Type, const std::string& text, void* self);
  std::optional<std::string> connect(RtMidi& midi, const std::string& wanted);
  void drain_input();
  void handle(const std::string& line);
  void print_channel(unsigned channel);
  void print_all();
  bool progress(); // runs the current burst or expect; true when it is done

  Options options_;
  bool quiet_;
  std::unique_ptr<midimesh::midi::SpscQueue<Bytes, 65536>> queue_ =
      std::make_unique<midimesh::midi::SpscQueue<Bytes, 65536>>();
  std::atomic<std::uint64_t> overflows_{0};
  std::string rtmidi_error_; // RtMidi's last complaint, from this thread only
  Received received_;
  std::unique_ptr<RtMidiIn> in_;
  std::unique_ptr<RtMidiOut> out_;

  struct Burst {
    unsigned total = 0, sent = 0, rate = 0;
    std::uint8_t channel = 0;
    Clock::time_point began; // when the command came
    Clock::time_point start; // of the pacing: later than began once the probe was held up
  };
  struct Expect {
    int channel = -1; // -1: all messages
    std::uint64_t count = 0;
    Clock::time_point deadline;
  };
  std::optional<Burst> burst_;
  std::optional<Expect> expect_;
};

void Probe::on_input(double, std::vector<unsigned char>* message, void* self) {
  // JACK's process thread: only hand over, never print or wait here.
  auto& probe = *static_cast<Probe*>(self);
  if (!probe.queue_->try_push([&](Bytes& slot) { slot.assign(message->begin(), message->end()); }))
    probe.overflows_.fetch_add(1, std::memory_order_relaxed);
}

// Installed so RtMidi neither prints nor throws; the caller checks rtmidi_error_ instead.
void Probe::on_error(RtMidiError::Type, const std::string& text, void* self) {
  static_cast<Probe*>(self)->rtmidi_error_ = text;
}

std::optional<std::string> Probe::connect(RtMidi& midi, const std::string& wanted) {
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < give_up) {
    for (unsigned i = 0, n = midi.getPortCount(); i < n; ++i) {
      const std::string name = midi.getPortName(i);
      if (!of_client(name, wanted)) continue;
      midi.openPort(i, &midi == in_.get() ? "in" : "out");
      return name;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

void Probe::drain_input() {
  while (queue_->try_pop([&](const Bytes& message) {
    received_.observe(message);
    if (!quiet_) std::printf("recv %s\n", hex(message).c_str());
  })) {
  }
}

void Probe::print_channel(unsigned channel) {
  const auto& s = received_.channels[channel];
  std::printf("stats ch=%u count=%llu last=%ld missing=%llu reordered=%llu\n", channel,
              static_cast<unsigned long long>(s.count), s.last,
              static_cast<unsigned long long>(s.missing),
              static_cast<unsigned long long>(s.reordered));
}

void Probe::print_all() {
  std::printf("stats all count=%llu bytes=%llu overflows=%llu checksum=%016llx\n",
              static_cast<unsigned long long>(received_.count),
              static_cast<unsigned long long>(received_.bytes),
              static_cast<unsigned long long>(overflows_.load()),
              static_cast<unsigned long long>(received_.checksum));
}

void Probe::handle(const std::string& line) {
  std::istringstream words(line);
  std::string command;
  words >> command;
  auto send = [&](const Bytes& message) {
    rtmidi_error_.clear();
    out_->sendMessage(message.data(), message.size());
    if (rtmidi_error_.empty())
      std::printf("sent %zu\n", message.size());
    else
      std::printf("error %s\n", rtmidi_error_.c_str());
  };
  if (command.empty()) return;
  if (command == "send") {
    std::string rest;
    std::getline(words, rest);
    if (auto message = parse_hex(rest))
      send(*message);
    else
      std::printf("error send needs hex bytes, e.g. send 903c64\n");
  } else if (command == "sysex") {
    std::size_t size = 0;
    if (!(words >> size) || size < 2) {
      std::printf("error sysex needs a size of at least 2\n");
      return;
    }
    Bytes message(size);
    for (std::size_t i = 0; i < size; ++i)
      message[i] = static_cast<std::uint8_t>((i * 7 + 3) & 0x7F);
    message.front() = 0xF0;
    message.back() = 0xF7;
    send(message);
  } else if (command == "burst") {
    Burst burst;
    unsigned channel = 0;
    if (!(words >> burst.total >> channel >> burst.rate) || burst.total > max_burst ||
        channel > 15 || burst.rate == 0) {
      std::printf("error burst needs N (<= %u) CH (0-15) RATE (> 0)\n", max_burst);
      return;
    }
    burst.channel = static_cast<std::uint8_t>(channel);
    burst.began = burst.start = Clock::now();
    burst_ = burst;
  } else if (command == "expect") {
    std::string channel;
    Expect expect;
    unsigned long long count = 0, ms = 0;
    if (!(words >> channel >> count >> ms) ||
        (channel != "all" && (channel.find_first_not_of("0123456789") != std::string::npos ||
                              std::stoi(channel) > 15))) {
      std::printf("error expect needs CH|all N MS\n");
      return;
    }
    expect.channel = channel == "all" ? -1 : std::stoi(channel);
    expect.count = count;
    expect.deadline = Clock::now() + std::chrono::milliseconds(ms);
    expect_ = expect;
  } else if (command == "stats") {
    std::string channel;
    words >> channel;
    drain_input();
    if (channel == "all")
      print_all();
    else if (!channel.empty() && channel.find_first_not_of("0123456789") == std::string::npos &&
             std::stoi(channel) <= 15)
      print_channel(static_cast<unsigned>(std::stoi(channel)));
    else
      std::printf("error stats needs CH|all\n");
  } else if (command == "quiet" || command == "verbose") {
    quiet_ = command == "quiet";
    std::printf("ok\n");
  } else if (command == "reset") {
    drain_input();
    received_ = Received{};
    overflows_ = 0;
    std::printf("ok\n");
  } else if (command == "ping") {
    std::printf("pong\n");
  } else {
    std::printf("error unknown command %s\n", command.c_str());
  }
}

bool Probe::progress() {
  const auto now = Clock::now();
  if (burst_) {
    auto& b = *burst_;
    // Paced against the start, not the previous message, so that slow wakeups do not slow the
    // rate; at most a period's worth goes out at once, well within a JACK port buffer. A probe
    // held up longer (a busy machine) plays on at its rate from where it is, as a player would:
    // rushing out what it owes would be a burst the hub rightly holds to the sender's budget.
    const unsigned most = std::max(1u, b.rate / 50); // 20 ms worth
    auto due = std::min<unsigned>(
        b.total,
        static_cast<unsigned>(std::chrono::duration<double>(now - b.start).count() * b.rate) + 1);
    if (due > b.sent + most) {
      due = b.sent + most;
      b.start = now - std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>((due - 1) / static_cast<double>(b.rate)));
    }
    for (; b.sent < due; ++b.sent) {
      const std::uint8_t message[] = {static_cast<std::uint8_t>(poly_pressure | b.channel),
                                      static_cast<std::uint8_t>(b.sent >> 7 & 0x7F),
                                      static_cast<std::uint8_t>(b.sent & 0x7F)};
      out_->sendMessage(message, sizeof message);
    }
    if (b.sent < b.total) return false;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - b.began).count();
    std::printf("burst %u %lld\n", b.total, static_cast<long long>(ms));
    burst_.reset();
    return true;
  }
  if (expect_) {
    const auto& e = *expect_;
    const auto have = e.channel < 0 ? received_.count : received_.channels[e.channel].count;
    if (have < e.count && now < e.deadline) return false;
    if (e.channel < 0)
      print_all();
    else
      print_channel(static_cast<unsigned>(e.channel));
    expect_.reset();
  }
  return true;
}

int Probe::run() {
  try {
    in_ = std::make_unique<RtMidiIn>(RtMidi::UNIX_JACK, options_.name + "-in");
    out_ = std::make_unique<RtMidiOut>(RtMidi::UNIX_JACK, options_.name + "-out");
    in_->setErrorCallback(&Probe::on_error, this);
    out_->setErrorCallback(&Probe::on_error, this);
    in_->ignoreTypes(false, false, false); // RtMidi drops SysEx, clock and sensing by default
    in_->setCallback(&Probe::on_input, this);
    out_->getPortCount(); // connects to the server, or reports that none runs
    if (!rtmidi_error_.empty()) {
      std::fprintf(stderr, "midiprobe: %s\n", rtmidi_error_.c_str());
      return 2;
    }
    std::string sent_to = "virtual", received_from = "virtual";
    if (options_.send_to.empty()) {
      out_->openVirtualPort("out");
    } else if (auto name = connect(*out_, options_.send_to)) {
      sent_to = *name;
    } else {
      std::fprintf(stderr, "midiprobe: no JACK input port matches '%s'\n",
                   options_.send_to.c_str());
      return 2;
    }
    if (options_.recv_from.empty()) {
      in_->openVirtualPort("in");
    } else if (auto name = connect(*in_, options_.recv_from)) {
      received_from = *name;
    } else {
      std::fprintf(stderr, "midiprobe: no JACK output port matches '%s'\n",
                   options_.recv_from.c_str());
      return 2;
    }
    if (!rtmidi_error_.empty()) {
      std::fprintf(stderr, "midiprobe: %s\n", rtmidi_error_.c_str());
      return 2;
    }
    std::printf("ready out=%s in=%s\n", sent_to.c_str(), received_from.c_str());
  } catch (const RtMidiError& e) {
    std::fprintf(stderr, "midiprobe: %s\n", e.getMessage().c_str());
    return 2;
  }

  const auto give_up = Clock::now() + std::chrono::duration<double>(options_.timeout_s);
  std::string pending;
  bool stdin_open = true;
  while (Clock::now() < give_up) {
    if (terminated) return 0;
    drain_input();
    if (!progress()) {
    } else if (auto end = pending.find('\n'); end != std::string::npos) {
      const std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      try {
        handle(line);
      } catch (const RtMidiError& e) {
        std::printf("error %s\n", e.getMessage().c_str());
      }
      if (line == "quit") return 0;
      continue;
    } else if (!stdin_open) {
      return 0;
    }
    pollfd input{STDIN_FILENO, POLLIN, 0};
    // Short enough to pace bursts and print what arrives promptly.
    if (::poll(stdin_open ? &input : nullptr, stdin_open ? 1 : 0, 2) > 0) {
      char chunk[4096];
      const auto got = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (got <= 0) {
        stdin_open = false;
        if (!pending.empty() && pending.back() != '\n') pending += '\n';
      } else
        pending.append(chunk, static_cast<std::size_t>(got));
    }
  }
  std::fprintf(stderr, "midiprobe: timeout after %g s\n", options_.timeout_s);
  return 3;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGTERM, [](int) { terminated = 1; });
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quiet")
      options.quiet = true;
    else if (arg == "--name" && has_value)
      options.name = argv[++i];
    else if (arg == "--send-to" && has_value)
      options.send_to = argv[++i];
    else if (arg == "--recv-from" && has_value)
      options.recv_from = argv[++i];
    else if (arg == "--timeout" && has_value)
      options.timeout_s = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "usage: midiprobe [--name NAME] [--send-to CLIENT] [--recv-from CLIENT] "
                           "[--timeout SECONDS] [--quiet]\n");
      return 2;
    }
  }
  return Probe(options).run();
}
