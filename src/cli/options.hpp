#pragma once
// The command line: what a musician or a venue technician types, turned into a NodeConfig.

#include "log/log.hpp"
#include "node/node.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace midimesh::cli {

struct Options {
  node::NodeConfig node;
  bool list_ports = false;
  std::string secret_file; // empty: MIDIMESH_SECRET, or an open mesh
  log::Level log_level = log::Level::info;
};

// Parses argv. Returns the options, or the exit code when the program should stop now
// (--help, --version, a usage error: CLI11 has printed what to say).
struct Parsed {
  std::optional<Options> options;
  int exit_code = 0;
};

Parsed parse(int argc, char** argv);

// --sender-budget: "MSGS,KIB" per second, or "off"; nullopt when it is neither.
std::optional<hub::BudgetLimits> parse_budget(std::string_view text);

} // namespace midimesh::cli
