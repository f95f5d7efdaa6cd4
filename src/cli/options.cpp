#include "cli/options.hpp"

#include "cli/version.hpp"
#include "midimesh_config.h"
#include "platform/sockets.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <unistd.h>

namespace midimesh::cli {
namespace {

// The user's own defaults, read when it exists and no --config is given: what a laptop's
// systemd user unit (and a musician typing `midimesh`) runs with.
std::string user_config_file() {
  std::string base;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::string(home) + "/.config";
  if (base.empty()) return {};
  std::string file = base + "/midimesh/midimesh.conf";
  return ::access(file.c_str(), R_OK) == 0 ? file : std::string();
}

std::string host_name() {
  const std::string name = platform::host_name();
  return name.empty() ? "midimesh" : name;
}

} // namespace

std::optional<hub::BudgetLimits> parse_budget(std::string_view text) {
  hub::BudgetLimits limits;
  if (text == "off") {
    limits.enabled = false;
    return limits;
  }
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  double messages = 0, kib = 0;
  const std::string_view m = text.substr(0, comma), k = text.substr(comma + 1);
  const auto m_end = std::from_chars(m.data(), m.data() + m.size(), messages);
  const auto k_end = std::from_chars(k.data(), k.data() + k.size(), kib);
  if (m_end.ec != std::errc() || m_end.ptr != m.data() + m.size() || k_end.ec != std::errc() ||
      k_end.ptr != k.data() + k.size() || !(messages > 0) || !(kib > 0) || messages > 1e9 ||
      kib > 1e9)
    return std::nullopt;
  // Bursts as the defaults': 0.4 s of messages, four seconds of bytes, and never less than the
  // largest frame, which would otherwise never pass.
  limits.messages_per_s = messages;
  limits.message_burst = std::max(1.0, 0.4 * messages);
  limits.bytes_per_s = kib * 1024;
  limits.byte_burst = std::max(4 * limits.bytes_per_s, 1024.0 * 1024);
  return limits;
}

Parsed parse(int argc, char** argv) {
  CLI::App app{"midimesh: share MIDI between the computers of a rehearsal or venue.\n"
               "With no options the computers on the network find each other (mDNS), agree on\n"
               "one hub, and local apps play into and out of this node's virtual MIDI ports."};
  app.set_version_flag("--version", version_line("midimesh"));
  app.get_formatter()->column_width(28);
  // Every option can be set in the file too (the long name without dashes: `mesh = "band2"`,
  // `no-midi = true`); the command line wins. A misspelt key is an error, not a silent default.
  app.set_config("--config", user_config_file(),
                 "Read options from FILE (`name = value` lines, e.g. mesh = \"band2\"; default: "
                 "~/.config/midimesh/midimesh.conf when it exists)",
                 false)
      ->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);

  Options options;
  node::NodeConfig& config = options.node;
  config.name = host_name();
  bool be_hub = false;
  std::string connect;
  std::string log_level = "info";

  auto* hub = app.add_flag("--hub", be_hub, "Always be the hub that relays everyone's MIDI");
  app.add_option("--connect", connect, "Join the hub at HOST (IPv6: [ADDR]:PORT)")
      ->type_name("HOST[:PORT]")
      ->excludes(hub);
  app.add_option("--mesh", config.mesh, "Which mesh to join: bands on one network stay apart")
      ->type_name("NAME")
      ->capture_default_str();
  app.add_option("--priority", config.priority,
                 "Preference to become hub (higher wins; a wired desktop over Wi-Fi)")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--connections", config.connections,
                 "TCP connections to the hub, each carrying every message: the first copy "
                 "plays, so a lost packet stalls nothing (0: 2 over Wi-Fi, 1 over a wire)")
      ->type_name("N")
      ->check(CLI::Range(0, 4))
      ->capture_default_str();
  bool no_hub = false;
  app.add_flag("--no-hub", no_hub, "Never become the hub")->excludes(hub);
  app.add_option("--port", config.port, "Hub ports: PORT and PORT+1 (taken: any free pair)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65534))
      ->capture_default_str();
  app.add_option("--bind", config.bind_address,
                 "Address the hub and the RTP-MIDI session listen on (*: all, IPv4+6)")
      ->type_name("ADDR")
      ->capture_default_str();
  app.add_option("--name", config.name, "Name the others see (default: host name)")
      ->type_name("NAME");
  app.add_option("--midi-api", config.midi_config.api,
                 "MIDI backend (default: ALSA, then JACK on Linux; socket: tests and "
                 "benchmarks only, with --port-name PATH)")
      ->type_name("API")
      ->check(CLI::IsMember({"", "alsa", "jack", "core", "winmm", "socket"}));
  app.add_option("--midi-in", config.midi_config.input_name,
                 "Use the existing input port matching NAME (e.g. loopMIDI)")
      ->type_name("NAME");
  app.add_option("--midi-out", config.midi_config.output_name,
                 "Use the existing output port matching NAME")
      ->type_name("NAME");
  app.add_option("--port-name", config.midi_config.port_name, "Name of the virtual MIDI ports")
      ->type_name("NAME")
      ->capture_default_str();
  bool no_midi = false;
  app.add_flag("--no-midi", no_midi, "No MIDI ports: a headless hub on a server");
  std::vector<std::string> rtp_connect;
  bool no_rtp = false;
  auto* rtp_port = app.add_option("--rtp-port", config.rtp.port,
                                  "RTP-MIDI session ports: PORT and PORT+1 (taken: next free pair)")
                       ->type_name("PORT")
                       ->check(CLI::Range(1, 65534))
                       ->capture_default_str();
  auto* rtp_invite =
      app.add_option("--rtp-midi-connect", rtp_connect,
                     "Invite the RTP-MIDI session at HOST (an iPad app, Windows rtpMIDI; PORT "
                     "defaults to 5004); repeatable")
          ->type_name("HOST[:PORT]");
  app.add_flag("--no-rtp-midi", no_rtp, "No RTP-MIDI session: Macs and iPads cannot join here")
      ->excludes(rtp_port)
      ->excludes(rtp_invite);
  app.add_flag("--rtp-midi-open", config.rtp_midi_open,
               "Secured mesh: run the RTP-MIDI session anyway (AppleMIDI has no password: "
               "anyone on the network can join through this node)")
      ->excludes("--no-rtp-midi");
  app.add_option("--secret-file", options.secret_file,
                 "Secure the mesh with the passphrase in FILE's first line (or set "
                 "MIDIMESH_SECRET); every member needs the same one")
      ->type_name("FILE");
  std::string sender_budget;
  app.add_option("--sender-budget", sender_budget,
                 "As hub: what each sender may send, in messages and KiB per second (default "
                 "5000,256; off: no limit)")
      ->type_name("MSGS,KIB|off");
  app.add_flag("--list-ports", options.list_ports, "List the MIDI ports of every backend, exit");
  app.add_option("--log-level", log_level, "How much to log")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warning", "warn", "error"}))
      ->capture_default_str();

  app.footer("Examples:\n"
             "  midimesh                          join (or start) the mesh on this network\n"
             "  midimesh --mesh band2             the mesh called band2, apart from others\n"
             "  midimesh --connect stage.local    join the hub on stage.local, no mDNS\n"
             "  midimesh --hub --no-midi          a headless hub on a server\n"
             "  midimesh --connect 10.0.0.5 --midi-in loopMIDI --midi-out loopMIDI\n"
             "  midimesh --rtp-midi-connect ipad.local   also invite an iPad's session\n"
             "  MIDIMESH_SECRET='four random words here' midimesh    a secured mesh\n"
             "Stop with Ctrl-C: the node says goodbye and releases every note it holds.\n"
             "Send SIGUSR1 to log its counters.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e); // prints help, the version, or what is wrong
    // One exit code for every usage error, whatever CLI11 numbers it internally.
    return {std::nullopt, code == 0 ? 0 : 2};
  }
  if (!connect.empty()) {
    auto address = wire::parse_host_port(connect);
    if (!address) {
      std::fprintf(stderr, "--connect: \"%s\" is not HOST, HOST:PORT or [IPV6]:PORT\n",
                   connect.c_str());
      return {std::nullopt, 2};
    }
    config.hub_address = *address;
    config.mode = node::Mode::connect;
  } else {
    config.mode = be_hub ? node::Mode::hub : node::Mode::automatic;
  }
  for (const std::string& remote : rtp_connect) {
    // Same syntax as --connect, with the AppleMIDI port as default.
    auto address = wire::parse_host_port(remote, 5004);
    if (!address) {
      std::fprintf(stderr, "--rtp-midi-connect: \"%s\" is not HOST, HOST:PORT or [IPV6]:PORT\n",
                   remote.c_str());
      return {std::nullopt, 2};
    }
    config.rtp.invite.push_back({address->host, address->port});
  }
  if (!sender_budget.empty()) {
    auto budget = parse_budget(sender_budget);
    if (!budget) {
      std::fprintf(stderr, "--sender-budget: \"%s\" is not MSGS,KIB (both above 0) or off\n",
                   sender_budget.c_str());
      return {std::nullopt, 2};
    }
    config.budget = *budget;
  }
  config.rtp_midi = !no_rtp;
  config.eligible = !no_hub;
  config.midi = !no_midi;
  log::parse_level(log_level, options.log_level);
  return {options, 0};
}

} // namespace midimesh::cli
