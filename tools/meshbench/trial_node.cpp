#include "trial_node.hpp"

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>

namespace meshbench {
namespace {

std::vector<std::string> command(const std::string& midimesh, const std::vector<std::string>& args,
                                 const std::string& port_name, const std::string& name) {
  std::vector<std::string> argv{midimesh};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* a : {"--midi-api", "socket", "--port-name"})
    argv.emplace_back(a);
  argv.push_back(port_name);
  argv.emplace_back("--name");
  argv.push_back(name);
  return argv;
}

} // namespace

TrialNode::TrialNode(const std::string& midimesh, const std::vector<std::string>& args,
                     const std::string& dir, const std::string& name)
    : name_(name), port_name_(dir + "/" + name), log_path_(port_name_ + ".log"),
      process_(command(midimesh, args, port_name_, name), log_path_) {}

void TrialNode::signal(int signal) noexcept {
  // running() first: it also collects an exited child, after which pid() is no longer ours.
  if (process_.running() && process_.pid() > 0) ::kill(process_.pid(), signal);
}

std::string TrialNode::log() const {
  std::ifstream file(log_path_);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string TrialNode::id() const {
  static const std::regex line(R"(node "[^"]*" id ([0-9a-f]{16}))");
  const std::string text = log();
  std::smatch m;
  return std::regex_search(text, m, line) ? m[1].str() : "";
}

NodeRole TrialNode::role() const {
  // The lines steering.cpp and node.cpp write as the role changes; the last one counts.
  static const std::regex hub(R"(this node is now the hub|joined the mesh as its hub)");
  static const std::regex follower(R"(joined the mesh through hub (?:"[^"]*" \()?([0-9a-f]{16}))");
  static const std::regex between(R"(connecting to hub|silent for \d+ ms: electing another)");
  NodeRole role;
  std::istringstream lines(log());
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_search(line, hub))
      role = {NodeRole::Kind::hub, ""};
    else if (std::regex_search(line, m, follower))
      role = {NodeRole::Kind::follower, m[1].str()};
    else if (std::regex_search(line, between))
      role = {};
  }
  return role;
}

std::optional<std::string> agreed_hub(const std::vector<TrialNode*>& nodes) {
  const TrialNode* hub = nullptr;
  for (const TrialNode* n : nodes)
    if (n->role().kind == NodeRole::Kind::hub) {
      if (hub) return std::nullopt; // two claim it: not settled yet
      hub = n;
    }
  if (!hub) return std::nullopt;
  const std::string hub_id = hub->id();
  for (const TrialNode* n : nodes)
    if (n != hub) {
      const NodeRole r = n->role();
      if (r.kind != NodeRole::Kind::follower || r.hub_id != hub_id) return std::nullopt;
    }
  return hub->name();
}

} // namespace meshbench
