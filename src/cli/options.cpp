#include "cli/options.hpp"

#include "midimesh_config.h"
#include "platform/sockets.hpp"

#include <CLI/CLI.hpp>

namespace midimesh::cli {
namespace {

std::string host_name() {
  const std::string name = platform::host_name();
  return name.empty() ? "midimesh" : name;
}

} // namespace

Parsed parse(int argc, char** argv) {
  CLI::App app{"midimesh: share MIDI between the computers of a rehearsal or venue.\n"
               "With no options the computers on the network find each other (mDNS), agree on\n"
               "one hub, and local apps play into and out of this node's virtual MIDI ports."};
  app.set_version_flag("--version", std::string("midimesh ") + MIDIMESH_VERSION);
  app.get_formatter()->column_width(28);

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
  config.rtp_midi = !no_rtp;
  config.eligible = !no_hub;
  config.midi = !no_midi;
  log::parse_level(log_level, options.log_level);
  return {options, 0};
}

} // namespace midimesh::cli
