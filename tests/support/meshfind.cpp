// meshfind: announces one node record by mDNS and prints what the dns_sd backend of discovery/
// finds, for the integration tests.
//
// Usage: meshfind --id ID --name NAME --mesh MESH [--role hub|node|observer] [--port P]
//                 [--seconds N]
// Prints one line per event on stdout:
//   seen ID NAME ROLE HOST ADDRESS...   a node appeared or its record changed
//   gone ID                             its service was withdrawn
// and the backend's log on stderr. SIGUSR1 announces role "hub" with port P (8141 if none),
// then prints "announced hub". Exits 0 after N seconds (default 60) or on SIGTERM/SIGINT,
// withdrawing its service; 2 on bad usage.

#include "discovery/discovery.hpp"
#include "log/log.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <string>

namespace {

using namespace midimesh;

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t become_hub = 0;

std::uint64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

class Printer final : public discovery::Listener {
public:
  explicit Printer(std::uint64_t start_us) : start_us_(start_us) {}
  void node_seen(const discovery::SeenNode& n) override {
    std::string line =
        "seen " + n.record.id + " " + n.record.name + " " + n.record.role + " " + n.host;
    for (const auto& a : n.addresses)
      line += " " + a;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    log::info("meshfind", "{} seen after {} ms", n.record.id, (now_us() - start_us_) / 1000);
  }
  void node_gone(const std::string& id) override {
    std::printf("gone %s\n", id.c_str());
    std::fflush(stdout);
    log::info("meshfind", "{} gone after {} ms", id, (now_us() - start_us_) / 1000);
  }

private:
  std::uint64_t start_us_;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "meshfind: %s\nusage: meshfind --id ID --name NAME --mesh MESH "
               "[--role hub|node|observer] [--port P] [--seconds N]\n",
               why);
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  discovery::NodeRecord self;
  self.mesh.clear();
  long seconds = 60;
  long port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage(("missing value after " + arg).c_str());
    const std::string value = argv[++i];
    if (arg == "--id")
      self.id = value;
    else if (arg == "--name")
      self.name = value;
    else if (arg == "--mesh")
      self.mesh = value;
    else if (arg == "--role")
      self.role = value;
    else if (arg == "--port")
      port = std::strtol(value.c_str(), nullptr, 10);
    else if (arg == "--seconds")
      seconds = std::strtol(value.c_str(), nullptr, 10);
    else
      return usage(("unknown option " + arg).c_str());
  }
  if (self.id.empty() || self.name.empty() || self.mesh.empty())
    return usage("--id, --name and --mesh are required");
  if (port < 0 || port > 65535 || seconds <= 0) return usage("bad --port or --seconds");
  const auto base_port = static_cast<std::uint16_t>(port ? port : 8141);
  if (self.role == "hub") {
    self.port = base_port;
    self.hub_id = self.id;
  }

  struct sigaction sa {};
  sa.sa_handler = [](int sig) {
    if (sig == SIGUSR1)
      become_hub = 1;
    else
      stop_requested = 1;
  };
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1})
    sigaction(sig, &sa, nullptr);

  const std::uint64_t start = now_us();
  const std::uint64_t deadline = start + static_cast<std::uint64_t>(seconds) * 1'000'000;
  Printer printer(start);
  auto disco = discovery::make_dns_sd_discovery(printer, self.mesh, base_port);
  disco->announce(self);
  disco->process(now_us());

  while (!stop_requested) {
    const std::uint64_t now = now_us();
    if (now >= deadline) break;
    if (become_hub) {
      become_hub = 0;
      self.role = "hub";
      self.port = base_port;
      self.hub_id = self.id;
      self.term += 1;
      disco->announce(self);
      std::printf("announced hub\n");
      std::fflush(stdout);
    }
    // Bounded: a signal or the deadline is noticed within 200 ms even if nothing happens.
    std::uint64_t wake = std::min(deadline, now + 200'000);
    if (const std::uint64_t w = disco->next_wakeup_us(); w != 0)
      wake = std::min(wake, std::max(w, now));
    std::vector<pollfd> pfds;
    for (int fd : disco->fds())
      pfds.push_back({fd, POLLIN, 0});
    const int timeout_ms = static_cast<int>((wake - now + 999) / 1000);
    ::poll(pfds.data(), pfds.size(), timeout_ms); // EINTR: the loop looks at the flags
    disco->process(now_us());
  }
  log::info("meshfind", "exiting: {}", disco->describe());
  disco.reset(); // withdraws the service before the process ends
  return 0;
}
