// midimesh: one binary for every computer of the mesh. Parses the command line, then runs a node
// until SIGINT or SIGTERM. Startup failures (port in use) end with one clear line, never a trace.

#include "cli/options.hpp"
#include "hub/hub.hpp"
#include "log/log.hpp"
#include "midi/midi_ports.hpp"
#include "node/node.hpp"
#include "security/passphrase.hpp"

#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
  using namespace midimesh;
  cli::Parsed parsed = cli::parse(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  cli::Options& options = *parsed.options;
  log::set_level(options.log_level);

  if (options.list_ports)
    return midi::list_midi_ports(options.node.midi_config.api, std::cout) ? 0 : 1;

  try {
    options.node.security = security::SocketSecurity::from(
        security::load_mesh_keys(options.secret_file, options.node.mesh));
    node::Node node(std::move(options.node));
    return node.run();
  } catch (const security::SecretError& e) {
    log::error("main", "cannot start: {}", e.what());
  } catch (const hub::HubError& e) {
    log::error("main", "cannot start the hub: {}", e.what());
  } catch (const std::exception& e) {
    log::error("main", "cannot start: {}", e.what());
  }
  return 1;
}
