#include "cli/options.hpp"

#include "midimesh_config.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

namespace midimesh::cli {
namespace {

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "midimesh";
  return buffer;
}

} // namespace

Parsed parse(int argc, char** argv) {
  CLI::App app{"midimesh: share MIDI between the computers of a rehearsal or venue.\n"
               "With no options this node is the hub: other computers join it with\n"
               "--connect, and local apps play into and out of its virtual MIDI ports."};
  app.set_version_flag("--version", std::string("midimesh ") + MIDIMESH_VERSION);
  app.get_formatter()->column_width(28);

  Options options;
  node::NodeConfig& config = options.node;
  config.name = host_name();
  bool be_hub = false;
  std::string connect;
  std::string log_level = "info";

  auto* hub = app.add_flag("--hub", be_hub,
                           "Be the hub: forward every node's MIDI to every other node (default "
                           "for now: zero-config discovery comes in a later release)");
  app.add_option("--connect", connect,
                 "Join the hub at HOST[:PORT] (IPv6 as [ADDR]:PORT) instead of being it")
      ->type_name("HOST[:PORT]")
      ->excludes(hub);
  app.add_option("--port", config.port,
                 "Hub base port: nodes publish to PORT and subscribe at PORT+1")
      ->check(CLI::Range(1, 65534))
      ->capture_default_str();
  app.add_option("--bind", config.bind_address,
                 "Address the hub listens on (* = every interface, IPv4 and IPv6)")
      ->capture_default_str();
  app.add_option("--name", config.name, "Name shown to the other nodes (default: host name)");
  app.add_option("--midi-api", config.midi_config.api,
                 "MIDI backend: alsa, jack, core or winmm (default: try the platform's order; "
                 "on Linux ALSA, then JACK)")
      ->check(CLI::IsMember({"", "alsa", "jack", "core", "winmm"}));
  app.add_option("--midi-in", config.midi_config.input_name,
                 "Read from the existing MIDI input port whose name contains NAME instead of a "
                 "virtual input (e.g. a loopMIDI port on Windows)")
      ->type_name("NAME");
  app.add_option("--midi-out", config.midi_config.output_name,
                 "Write to the existing MIDI output port whose name contains NAME instead of a "
                 "virtual output")
      ->type_name("NAME");
  app.add_option("--port-name", config.midi_config.port_name,
                 "Name of the virtual MIDI ports this node creates")
      ->capture_default_str();
  bool no_midi = false;
  app.add_flag("--no-midi", no_midi, "Run without MIDI ports (a headless hub on a server)");
  app.add_flag("--list-ports", options.list_ports, "List the MIDI ports of every backend and exit");
  app.add_option("--log-level", log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "warn", "error"}))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, app.exit(e)};
  }
  if (!connect.empty()) {
    auto address = wire::parse_host_port(connect);
    if (!address) {
      std::fprintf(stderr, "--connect: \"%s\" is not HOST, HOST:PORT or [IPV6]:PORT\n",
                   connect.c_str());
      return {std::nullopt, 2};
    }
    config.hub_address = *address;
    config.host_hub = false;
  } else {
    config.host_hub = true;
  }
  config.midi = !no_midi;
  log::parse_level(log_level, options.log_level);
  return {options, 0};
}

} // namespace midimesh::cli
